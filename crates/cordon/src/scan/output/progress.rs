//! The progress bar on stderr, in bytes of input.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-count progress bar on stderr; hidden when stderr is not a terminal or the input
/// is small.
pub fn progress(total: u64, wanted: bool) -> ProgressBar {
    if !wanted || total < (64 << 20) {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} scanning {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb
}
