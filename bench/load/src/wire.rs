//! A minimal HTTP/1.1 client over raw bytes: the requests are serialised before the timed
//! phase, so the load generator spends its CPU on sockets, not on building requests.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest accepted response header section.
const MAX_HEAD: usize = 64 * 1024;
/// Largest accepted response body.
const MAX_BODY: usize = 1024 * 1024;

/// A request, serialised once.
#[derive(Clone, Debug)]
pub(crate) struct RawRequest {
    pub(crate) bytes: Vec<u8>,
}

impl RawRequest {
    /// Serialises `method path` with `headers` (a `Host` header must be among them) and `body`.
    pub(crate) fn new(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Self {
        let mut bytes = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        for (name, value) in headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !body.is_empty() || method != "GET" {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Self { bytes }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// One keep-alive connection; reconnects when the server closes (moto's HTTP/1.0 server does
/// after every response).
pub(crate) struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Sends `req` and reads the response; only the status is parsed unless `keep` is set.
    pub(crate) async fn send(&mut self, req: &RawRequest, keep: bool) -> Result<Response> {
        let stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(self.addr)
                    .await
                    .with_context(|| format!("connect {}", self.addr))?;
                s.set_nodelay(true)?;
                s
            }
        };
        let mut stream = stream;
        stream.write_all(&req.bytes).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                bail!("response header section over {MAX_HEAD} bytes");
            }
            if read_more(&mut stream, &mut self.buf).await? == 0 {
                bail!("connection closed before the response header");
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("non-UTF-8 header")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.split(' ');
        let version = parts.next().unwrap_or_default().to_owned();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let mut headers = Vec::new();
        let mut length = None;
        let mut close = version == "HTTP/1.0";
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                bail!("bad header line {line:?}");
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "content-length" => length = Some(value.parse::<usize>()?),
                "connection" if value.eq_ignore_ascii_case("close") => close = true,
                "connection" if value.eq_ignore_ascii_case("keep-alive") => close = false,
                "transfer-encoding" => bail!("chunked responses are not supported"),
                _ => {}
            }
            if keep {
                headers.push((name, value.to_owned()));
            }
        }
        let body_end = match length {
            Some(n) if n > MAX_BODY => bail!("response body over {MAX_BODY} bytes"),
            Some(n) => {
                while self.buf.len() < head_end + n {
                    if read_more(&mut stream, &mut self.buf).await? == 0 {
                        bail!("connection closed inside the response body");
                    }
                }
                head_end + n
            }
            None if close => {
                while read_more(&mut stream, &mut self.buf).await? > 0 {
                    if self.buf.len() > head_end + MAX_BODY {
                        bail!("response body over {MAX_BODY} bytes");
                    }
                }
                self.buf.len()
            }
            None => bail!("response without Content-Length on a kept-alive connection"),
        };
        if !close {
            self.stream = Some(stream);
        }
        Ok(Response {
            status,
            headers,
            body: if keep {
                self.buf[head_end..body_end].to_vec()
            } else {
                Vec::new()
            },
        })
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_content_length() {
        let r = RawRequest::new("POST", "/", &[("Host".into(), "h".into())], b"a=b");
        assert_eq!(
            String::from_utf8(r.bytes).unwrap_or_default(),
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\na=b"
        );
    }
}
