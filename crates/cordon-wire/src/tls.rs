//! Server names from the first bytes a client sends: the TLS ClientHello `server_name`
//! extension and the HTTP/1.x `Host:` header.
//!
//! [`client_hello_sni`] takes the client's byte stream from its start (one or more TLS
//! records, as reassembled from TCP) and handles a handshake message fragmented across
//! records. **It says [`TlsError::Incomplete`] when it needs more bytes, never reads past a
//! length it has checked, and buffers at most [`MAX_TLS_REASSEMBLY`] bytes** (and only when the
//! ClientHello does not fit in its first record).

use crate::packet::Error;

/// Largest ClientHello (handshake header included) reassembled.
pub const MAX_TLS_REASSEMBLY: usize = 32 * 1024;
/// Largest TLS record accepted (2^14 plus the expansion TLS allows).
pub const MAX_TLS_RECORD: usize = 16384 + 2048;
/// Bytes of an HTTP request searched for the Host header.
pub const MAX_HTTP_HEADER: usize = 8192;

/// TLS record content type (IANA; open).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct ContentType(pub u8);

impl ContentType {
    pub const HANDSHAKE: ContentType = ContentType(22);
}

/// TLS handshake message type (IANA; open).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    pub const CLIENT_HELLO: HandshakeType = HandshakeType(1);
}

/// TLS extension type (IANA; open).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    pub const SERVER_NAME: ExtensionType = ExtensionType(0);
}

/// Why no server name came out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// The ClientHello is not complete yet: feed more of the stream.
    Incomplete,
    /// Not a ClientHello, or a malformed one.
    Bad(Error),
}

impl From<Error> for TlsError {
    fn from(e: Error) -> TlsError {
        TlsError::Bad(e)
    }
}

/// True when `b` starts like a TLS handshake record (type 22, version 3.x).
pub fn looks_like_handshake(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == ContentType::HANDSHAKE.0 && b[1] == 3
}

/// Returns the ClientHello's `host_name`, lowercase without a trailing dot, or `None` when
/// the ClientHello has no server_name extension.
pub fn client_hello_sni(stream: &[u8]) -> Result<Option<String>, TlsError> {
    // Fast path: the whole handshake message is in the first record.
    let (first, mut at, complete) = record(stream, 0)?;
    if first.len() >= 4 {
        let need = hs_len(first)?;
        if first.len() >= 4 + need {
            return Ok(hello_sni(&first[4..4 + need])?);
        }
    }
    if !complete {
        return Err(TlsError::Incomplete);
    }
    // Slow path: gather handshake fragments across records, up to the cap.
    let mut buf: Vec<u8> = first.to_vec();
    loop {
        let (frag, next, complete) = record(stream, at)?;
        if buf.len() + frag.len() > MAX_TLS_REASSEMBLY {
            return Err(Error::limit("client hello larger than MAX_TLS_REASSEMBLY").into());
        }
        buf.extend_from_slice(frag);
        if buf.len() >= 4 {
            let need = hs_len(&buf)?;
            if buf.len() >= 4 + need {
                return Ok(hello_sni(&buf[4..4 + need])?);
            }
        }
        if !complete {
            return Err(TlsError::Incomplete);
        }
        at = next;
    }
}

/// The handshake bytes of the record at `at` (all of them captured so far), where the next
/// record starts, and whether the record is complete.
fn record(s: &[u8], at: usize) -> Result<(&[u8], usize, bool), TlsError> {
    let h = s.get(at..at + 5).ok_or(TlsError::Incomplete)?;
    if h[0] != ContentType::HANDSHAKE.0 {
        return Err(
            Error::malformed("tls record before the client hello is not a handshake").into(),
        );
    }
    if h[1] != 3 {
        return Err(Error::malformed("tls record version is not 3.x").into());
    }
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    if len > MAX_TLS_RECORD {
        return Err(Error::limit("tls record longer than MAX_TLS_RECORD").into());
    }
    if len == 0 {
        return Err(Error::malformed("empty tls handshake record").into());
    }
    let end = at + 5 + len;
    let frag = s.get(at + 5..end.min(s.len())).unwrap_or(&[]);
    Ok((frag, end, end <= s.len()))
}

fn hs_len(h: &[u8]) -> Result<usize, TlsError> {
    if h[0] != HandshakeType::CLIENT_HELLO.0 {
        return Err(Error::malformed("first handshake message is not a client hello").into());
    }
    let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
    if len + 4 > MAX_TLS_REASSEMBLY {
        return Err(Error::limit("client hello larger than MAX_TLS_REASSEMBLY").into());
    }
    Ok(len)
}

/// A cursor over a ClientHello body.
struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(Error::malformed("client hello field runs past its message"))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<usize, Error> {
        Ok(usize::from(self.take(1)?[0]))
    }
    fn u16(&mut self) -> Result<usize, Error> {
        let s = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([s[0], s[1]])))
    }
}

fn hello_sni(body: &[u8]) -> Result<Option<String>, Error> {
    let mut c = Cur { b: body, at: 0 };
    c.take(2 + 32)?; // legacy_version, random
    let n = c.u8()?;
    if n > 32 {
        return Err(Error::malformed(
            "client hello session id longer than 32 bytes",
        ));
    }
    c.take(n)?;
    let n = c.u16()?;
    c.take(n)?;
    let n = c.u8()?;
    c.take(n)?;
    if c.at == body.len() {
        return Ok(None);
    }
    let n = c.u16()?;
    let exts = c.take(n)?;
    let mut e = Cur { b: exts, at: 0 };
    while e.at < exts.len() {
        let ty = ExtensionType(e.u16()? as u16);
        let n = e.u16()?;
        let data = e.take(n)?;
        if ty != ExtensionType::SERVER_NAME {
            continue;
        }
        let mut s = Cur { b: data, at: 0 };
        let list = s.u16()?;
        let list = s.take(list)?;
        let mut l = Cur { b: list, at: 0 };
        while l.at < list.len() {
            let kind = l.u8()?;
            let n = l.u16()?;
            let name = l.take(n)?;
            if kind == 0 {
                return host_name(name).map(Some);
            }
        }
        return Ok(None);
    }
    Ok(None)
}

/// Validates and normalises a host name taken from the wire: printable ASCII without
/// spaces, at most 255 bytes; lowercased, trailing dot removed.
fn host_name(b: &[u8]) -> Result<String, Error> {
    let b = b.strip_suffix(b".").unwrap_or(b);
    if b.is_empty() || b.len() > 255 {
        return Err(Error::malformed(
            "server name empty or longer than 255 bytes",
        ));
    }
    if !b.iter().all(|c| (0x21..0x7f).contains(c)) {
        return Err(Error::malformed(
            "server name has bytes outside printable ascii",
        ));
    }
    Ok(b.iter().map(|c| c.to_ascii_lowercase() as char).collect())
}

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// True when `b` starts with an HTTP/1.x request method.
pub fn looks_like_http_request(b: &[u8]) -> bool {
    METHODS.iter().any(|m| b.starts_with(m))
}

/// The Host header of an HTTP/1.x request starting at `b[0]`, lowercase, without port or
/// trailing dot. `Ok(None)` when the request has no Host header in the bytes given.
pub fn http_request_host(b: &[u8]) -> Result<Option<String>, Error> {
    if !looks_like_http_request(b) {
        return Err(Error::malformed("not an http request"));
    }
    let b = &b[..b.len().min(MAX_HTTP_HEADER)];
    // Skip the request line.
    let Some(mut at) = memchr::memchr(b'\n', b).map(|i| i + 1) else {
        return Ok(None);
    };
    while at < b.len() {
        let end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |i| at + i);
        let line = &b[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            let v = line[5..].trim_ascii();
            let host = if let Some(rest) = v.strip_prefix(b"[") {
                // [v6]:port
                &rest[..memchr::memchr(b']', rest).unwrap_or(rest.len())]
            } else {
                &v[..memchr::memchr(b':', v).unwrap_or(v.len())]
            };
            return host_name(host).map(Some);
        }
        at = end + 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record carrying `sni` (if any) plus a padding extension of `pad` bytes.
    pub(crate) fn client_hello(sni: Option<&str>, pad: usize) -> Vec<u8> {
        let mut exts = Vec::new();
        if let Some(n) = sni {
            let n = n.as_bytes();
            exts.extend_from_slice(&0u16.to_be_bytes());
            exts.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
            exts.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
            exts.push(0);
            exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
            exts.extend_from_slice(n);
        }
        exts.extend_from_slice(&21u16.to_be_bytes());
        exts.extend_from_slice(&(pad as u16).to_be_bytes());
        exts.extend(std::iter::repeat_n(0u8, pad));
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        records(&hs, usize::MAX)
    }

    /// Wraps handshake bytes in records of at most `max` bytes each.
    pub(crate) fn records(hs: &[u8], max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in hs.chunks(max.min(16384)) {
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    fn check(input: &[u8], want: Result<Option<&str>, Option<crate::obs::AnomalyKind>>) {
        let got = client_hello_sni(input);
        let got = match got {
            Ok(s) => Ok(s),
            Err(TlsError::Incomplete) => Err(None),
            Err(TlsError::Bad(e)) => Err(Some(e.kind)),
        };
        assert_eq!(
            got.as_ref().map(|o| o.as_deref()),
            want.as_ref().map(|o| *o),
            "{input:02x?}"
        );
    }

    #[test]
    fn sni_cases() {
        use crate::obs::AnomalyKind::*;
        let full = client_hello(Some("Example.COM."), 0);
        check(&full, Ok(Some("example.com")));
        check(&client_hello(None, 10), Ok(None));
        // Split at every byte: incomplete until the end.
        for cut in [0, 3, 5, 6, 40, full.len() - 1] {
            check(&full[..cut], Err(None));
        }
        // Post-quantum-sized hello in one record, and fragmented into 100-byte records.
        let big = client_hello(Some("pq.example"), 1500);
        check(&big, Ok(Some("pq.example")));
        let hs = &big[5..];
        let frag = records(hs, 100);
        check(&frag, Ok(Some("pq.example")));
        check(&frag[..frag.len() - 1], Err(None));
        // Hostile: not a handshake, server hello, huge length, sni bytes.
        check(&[23, 3, 3, 0, 1, 0], Err(Some(Malformed)));
        check(&[22, 3, 3, 0, 4, 2, 0, 0, 0], Err(Some(Malformed)));
        check(&[22, 3, 3, 0, 4, 1, 0xff, 0xff, 0xff], Err(Some(Limit)));
        check(&[22, 3, 3, 0xff, 0xff, 1], Err(Some(Limit)));
        check(&client_hello(Some("bad name"), 0), Err(Some(Malformed)));
        // A hello whose declared body is shorter than its fields.
        let mut short = client_hello(Some("a.example"), 0);
        short[8] = 40; // handshake length low byte: cuts the body inside the cipher suites
        short[4] = 44;
        short.truncate(5 + 44);
        check(&short, Err(Some(Malformed)));
    }

    type HostCase = (&'static [u8], Result<Option<&'static str>, ()>);

    #[test]
    fn http_host_cases() {
        let cases: &[HostCase] = &[
            (
                b"GET / HTTP/1.1\r\nHost: WWW.Example.com:8080\r\n\r\n",
                Ok(Some("www.example.com")),
            ),
            (
                b"POST /x HTTP/1.0\r\nUser-Agent: a\r\nhost:  api.example.\r\n\r\n",
                Ok(Some("api.example")),
            ),
            (
                b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n",
                Ok(Some("2001:db8::1")),
            ),
            (b"GET / HTTP/1.0\r\n\r\nHost: late.example\r\n", Ok(None)),
            (b"GET / HTTP/1.1", Ok(None)),
            (b"HTTP/1.1 200 OK\r\nHost: x\r\n", Err(())),
            (b"GET / HTTP/1.1\r\nHost: \r\n", Err(())),
        ];
        for (input, want) in cases {
            let got = http_request_host(input);
            assert_eq!(
                got.as_ref().map(|o| o.as_deref()).map_err(|_| ()),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
