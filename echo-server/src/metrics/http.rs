//! Just enough HTTP/1.x for a scraper: read one request head (bounded), answer it once,
//! close. No keep-alive, no body, no chunking.

/// Largest request head read; a longer one is answered 400 without reading further.
pub(crate) const MAX_REQUEST: usize = 4096;

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// `GET /metrics` (any query string); `head`: `HEAD`, headers only.
    Metrics {
        /// Answer with the headers alone.
        head: bool,
    },
    /// A well-formed request for another path.
    NotFound,
    /// Another method on `/metrics`.
    WrongMethod,
    /// Not an HTTP/1.x request line, or a head that does not end within [`MAX_REQUEST`]
    /// bytes or before the client stopped sending.
    Bad,
}

/// The request in `buf` once it can be told: `None` while more bytes may complete it.
/// `ended`: the client sent its last byte.
pub(crate) fn parse(buf: &[u8], ended: bool) -> Option<Request> {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return (ended || buf.len() >= MAX_REQUEST).then_some(Request::Bad);
    };
    let Some((method, path)) = request_line(&buf[..line_end]) else {
        return Some(Request::Bad); // Garbage is answered at once, whatever follows.
    };
    let head_done =
        buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n");
    if !head_done {
        return (ended || buf.len() >= MAX_REQUEST).then_some(Request::Bad);
    }
    Some(match (path == "/metrics", method) {
        (false, _) => Request::NotFound,
        (true, "GET") => Request::Metrics { head: false },
        (true, "HEAD") => Request::Metrics { head: true },
        (true, _) => Request::WrongMethod,
    })
}

/// `METHOD SP TARGET SP HTTP/1.x`: the method and the target's path (query dropped).
fn request_line(line: &[u8]) -> Option<(&str, &str)> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let token = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if parts.next().is_some()
        || !token
        || !target.starts_with('/')
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    Some((method, target.split('?').next().unwrap_or(target)))
}

/// The whole response to `request`; `body` renders the metrics when they are asked for.
pub(crate) fn respond(request: Request, body: impl FnOnce() -> String) -> Vec<u8> {
    let (status, content_type, text, send_body) = match request {
        Request::Metrics { head } => ("200 OK", super::text::CONTENT_TYPE, body(), !head),
        Request::NotFound => (
            "404 Not Found",
            PLAIN,
            "only /metrics is served here\n".into(),
            true,
        ),
        Request::WrongMethod => ("405 Method Not Allowed", PLAIN, "use GET\n".into(), true),
        Request::Bad => (
            "400 Bad Request",
            PLAIN,
            "not an HTTP/1.x request\n".into(),
            true,
        ),
    };
    let allow = if request == Request::WrongMethod {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}\
         Connection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    if send_body {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

const PLAIN: &str = "text/plain; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart() {
        let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
        assert_eq!(parse(get, false), Some(Request::Metrics { head: false }));
        assert_eq!(parse(&get[..30], false), None, "head not complete yet");
        assert_eq!(
            parse(&get[..30], true),
            Some(Request::Bad),
            "client stopped early"
        );
        let query = b"GET /metrics?x=1 HTTP/1.0\n\n";
        assert_eq!(parse(query, false), Some(Request::Metrics { head: false }));
        let head = b"HEAD /metrics HTTP/1.1\r\n\r\n";
        assert_eq!(parse(head, false), Some(Request::Metrics { head: true }));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n", false),
            Some(Request::NotFound)
        );
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n", false),
            Some(Request::WrongMethod)
        );
        assert_eq!(parse(b"\x16\x03\x01 hello\n", false), Some(Request::Bad));
        assert_eq!(parse(b"GET /metrics SMTP\r\n", false), Some(Request::Bad));
        assert_eq!(parse(&[b'A'; MAX_REQUEST], false), Some(Request::Bad));
        assert_eq!(parse(b"", false), None);
    }

    #[test]
    fn a_head_answer_has_no_body_but_its_length() {
        let full = respond(Request::Metrics { head: false }, || "x 1\n".into());
        let head = respond(Request::Metrics { head: true }, || "x 1\n".into());
        assert!(full.ends_with(b"\r\n\r\nx 1\n"));
        assert!(head.ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\n"));
    }
}
