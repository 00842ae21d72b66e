//! TCP reads that also say whether they drained the socket (`TCP_INQ`).
//!
//! An HTTP/1 server reads a request (a read shorter than its buffer),
//! answers, and reads again: that second read can only say `WouldBlock`,
//! and it is one of the three system calls of each request. tokio skips it
//! with its short-read rule, which is safe only with a sticky read-closed bit
//! from `EPOLLRDHUP` (data and a FIN can arrive under one edge-triggered
//! event; clearing readiness after the data would lose the FIN for good).
//! `polling` cannot report `EPOLLRDHUP`.
//!
//! Linux (4.18 and later) can say it directly: with the `TCP_INQ` socket
//! option set, each `recvmsg` carries a `TCP_CM_INQ` control message holding
//! the bytes still queued after the read, and the kernel reports 1 instead
//! of 0 when a FIN has arrived ("keep reading", `tcp_inq_hint`). A hint of 0
//! after a read of at least one byte proves the socket drained, FIN
//! included, so the read clears the cached readiness as `WouldBlock` would
//! (see `reactor::io`; an RST is not in the hint, which is why a hang-up or
//! error event makes the source's `closed` flag sticky).
//!
//! Elsewhere, or if the option cannot be set, reads carry no hint and behave
//! as before: the next read finds out.

use std::io;
use std::mem::MaybeUninit;
use std::net::TcpStream;

/// `buf` as a slice of possibly uninitialised bytes, for the reads below.
pub(crate) fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The slice is only
    // handed to reads, which write initialised bytes (the kernel's) and never
    // de-initialise any, so `buf` stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// `read(2)` into possibly uninitialised memory: on `Ok(n)` the first `n`
/// bytes of `buf` are initialised.
pub(crate) fn read_uninit(
    fd: std::os::fd::BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // is exclusively borrowed for the call; `fd` is open (borrowed).
    let n = unsafe {
        libc::read(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Asks the kernel to report, with each read, how much is left to read.
/// Best effort: without it, reads simply carry no hint.
#[cfg(target_os = "linux")]
pub(crate) fn enable(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: `setsockopt` reads `size_of::<c_int>()` bytes from `&one`,
    // which outlives the call; the fd is open (borrowed from `stream`).
    let _ = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INQ,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn enable(_: &TcpStream) {}

/// Reads into `buf`: the byte count, and whether the read provably left
/// nothing to read (no data, no FIN; see the module docs).
/// On `Ok((n, _))` the first `n` bytes of `buf` are initialised.
#[cfg(target_os = "linux")]
pub(crate) fn recv(stream: &TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
    use std::os::fd::AsRawFd;
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one `cmsghdr` and an `int`, aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (which describes `buf`) and at
    // `control`, all alive and exclusively borrowed for the call; the kernel
    // writes at most `iov_len` bytes into `buf` and `msg_controllen` bytes
    // into `control`.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n == 0 || msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Ok((n, false));
    }
    let mut drained = false;
    // SAFETY: the CMSG_* macros walk the control messages the kernel wrote
    // into `control`, bounded by `msg.msg_controllen` (which it set); the
    // `int` payload of `TCP_CM_INQ` is read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_TCP && (*cmsg).cmsg_type == libc::TCP_CM_INQ {
                let inq = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                drained = inq == 0;
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, drained))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn recv(stream: &TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
    use std::os::fd::AsFd;
    read_uninit(stream.as_fd(), buf).map(|n| (n, false))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    /// `recv` into an initialised buffer (the tests compare its bytes).
    fn recv_into(stream: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        recv(stream, super::as_uninit(buf))
    }
    use std::net::{Shutdown, TcpListener};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        enable(&server);
        (client, server)
    }

    /// Waits until `n` bytes are queued on `stream` (a blocking peek
    /// returns what has arrived so far).
    fn wait_queued(stream: &TcpStream, n: usize) {
        let mut peek = vec![0; n + 1];
        while stream.peek(&mut peek).unwrap() < n {}
    }

    #[test]
    fn a_read_of_everything_queued_says_drained() {
        let (mut client, server) = pair();
        client.write_all(b"hello").unwrap();
        wait_queued(&server, 5);
        let mut buf = [0; 64];
        assert_eq!(recv_into(&server, &mut buf).unwrap(), (5, true));
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn a_read_that_leaves_bytes_says_not_drained() {
        let (mut client, server) = pair();
        client.write_all(b"hello world").unwrap();
        wait_queued(&server, 11);
        let mut buf = [0; 5];
        assert_eq!(recv_into(&server, &mut buf).unwrap(), (5, false));
        let mut rest = [0; 64];
        assert_eq!(recv_into(&server, &mut rest).unwrap(), (6, true));
        assert_eq!(&rest[..6], b" world");
    }

    #[test]
    fn a_read_before_a_queued_fin_says_not_drained_and_the_next_read_ends() {
        let (mut client, server) = pair();
        client.write_all(b"bye").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        wait_queued(&server, 3);
        while !rdhup(&server) {}
        let mut buf = [0; 64];
        // Data and FIN both queued: a short read, but not drained.
        assert_eq!(recv_into(&server, &mut buf).unwrap(), (3, false));
        assert_eq!(&buf[..3], b"bye");
        assert_eq!(recv_into(&server, &mut buf).unwrap(), (0, false));
    }

    #[test]
    fn a_stream_without_the_option_says_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"hello").unwrap();
        wait_queued(&server, 5);
        let mut buf = [0; 64];
        assert_eq!(recv_into(&server, &mut buf).unwrap(), (5, false));
    }

    /// Whether the peer's FIN has arrived (`poll` reports `POLLRDHUP`).
    fn rdhup(stream: &TcpStream) -> bool {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 1 && pfd.revents & libc::POLLRDHUP != 0
    }
}
