//! Mapped inputs survive being truncated while they are scanned.
//!
//! Reading a page of a mapping past the end of a file that shrank raises SIGBUS, which
//! kills the process by default: one `logrotate copytruncate` during a scan lost every
//! input's output. Each mapping is registered here while it is in use; the first SIGBUS
//! inside a registered range maps zero pages over the rest of that range (`MAP_FIXED`,
//! anonymous, read-only) and marks it. The faulting read then completes with zeros, which
//! the decoders treat like any other bad bytes, and the scan reports the input as damaged
//! ([`Guard::faulted`]). A SIGBUS outside every registered range gets the default action.
//!
//! The handler only loads atomics and calls `mmap(2)`, a plain system call on Linux.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Mappings guarded at once; a mapping that finds no free slot is not made (the input is
/// read instead).
const SLOTS: usize = 64;

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const NO: AtomicBool = AtomicBool::new(false);
static START: [AtomicUsize; SLOTS] = [ZERO; SLOTS];
static END: [AtomicUsize; SLOTS] = [ZERO; SLOTS];
static HIT: [AtomicBool; SLOTS] = [NO; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A registered mapping; dropping it unregisters the range (drop it before unmapping).
#[derive(Debug)]
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Whether a read past the file's end was answered with zeros: the file shrank while
    /// it was mapped.
    pub fn faulted(&self) -> bool {
        HIT[self.slot].load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        START[self.slot].store(0, Ordering::Release);
        END[self.slot].store(0, Ordering::Release);
        HIT[self.slot].store(false, Ordering::Release);
    }
}

/// Registers `len` bytes mapped at `ptr`. `None` when the handler cannot be installed or
/// every slot is taken: the caller must not map then.
pub fn register(ptr: *const u8, len: usize) -> Option<Guard> {
    INSTALL.call_once(install);
    if !INSTALLED.load(Ordering::Acquire) || len == 0 {
        return None;
    }
    let start = ptr as usize;
    for slot in 0..SLOTS {
        if START[slot]
            .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            HIT[slot].store(false, Ordering::Release);
            END[slot].store(start + len, Ordering::Release);
            return Some(Guard { slot });
        }
    }
    None
}

fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        PAGE.store(page as usize, Ordering::Release);
    }
    // SAFETY: a zeroed sigaction is valid; the handler has the SA_SIGINFO signature and
    // only does async-signal-safe work (atomics and one system call).
    let ok = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) == 0
    };
    INSTALLED.store(ok, Ordering::Release);
}

extern "C" fn handler(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Acquire);
    for slot in 0..SLOTS {
        let start = START[slot].load(Ordering::Acquire);
        let end = END[slot].load(Ordering::Acquire);
        if start == 0 || addr < start || addr >= end {
            continue;
        }
        let from = addr & !(page - 1);
        // SAFETY: the range lies inside a read-only private mapping that this process made
        // and still holds (registered); replacing its pages with zero pages changes only
        // what reads of it return.
        let r = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            HIT[slot].store(true, Ordering::Release);
            return;
        }
    }
    // Not ours (or the zero pages could not be mapped): the default action, which the
    // faulting instruction meets again on return.
    // SAFETY: resetting a signal's disposition is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A mapped file cut short: reading past its new end gives zeros and marks the guard,
    /// instead of killing the process.
    #[test]
    fn reads_past_a_truncated_end_give_zeros() {
        let p = std::env::temp_dir().join(format!("cordon-sigbus-{}", std::process::id()));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(&vec![b'x'; 1 << 20]).unwrap();
        let file = std::fs::File::open(&p).unwrap();
        // SAFETY: the test truncates the file on purpose; that is what is guarded.
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        let guard = register(map.as_ptr(), map.len()).unwrap();
        assert!(!guard.faulted());
        assert_eq!(map[100_000], b'x');
        f.set_len(8192).unwrap();
        // Past the new end: would be SIGBUS.
        let tail: u64 = map[300_000..].iter().map(|&b| u64::from(b)).sum();
        assert_eq!(tail, 0);
        assert!(guard.faulted());
        assert_eq!(map[10], b'x');
        drop(guard);
        drop(map);
        std::fs::remove_file(&p).ok();
    }
}
