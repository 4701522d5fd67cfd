//! One virtual user's keep-alive connection: connect on demand, send, read, reconnect.
//!
//! A request that finds its reused connection closed by the server before any response
//! byte (an idle keep-alive close racing our write) is sent once more on a new
//! connection, as browsers and hyper do; any other failure closes the connection and is
//! reported, and the next request reconnects.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::HttpError;
use super::response::{RecvBuf, Response, ResponseParts, read_response};
use crate::outcome::ErrorKind;

/// A connection slot owned by one virtual user.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: RecvBuf,
}

/// A response plus how many new connections it took.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    /// The response.
    pub response: Response,
    /// Connections opened for this request (0 when reused, 1 normally, 2 after a retry).
    pub connects: u32,
}

impl Conn {
    /// A slot for `addr`; nothing is connected until the first request.
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            stream: None,
            buf: RecvBuf::new(),
        }
    }

    /// Close the connection (the next request reconnects).
    pub fn close(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    async fn connect(&mut self) -> Result<(), HttpError> {
        let stream = TcpStream::connect(self.addr).await.map_err(|e| {
            HttpError::Connect(match e.kind() {
                std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
                std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
                _ => ErrorKind::ConnectError,
            })
        })?;
        // Small requests must leave at once; Nagle would add up to 40 ms.
        let _ = stream.set_nodelay(true);
        self.stream = Some(stream);
        self.buf.clear();
        Ok(())
    }

    /// Send one request (`wire`: the complete HTTP/1.1 request bytes; `head`: it is a HEAD
    /// request) and read its response, keeping what `parts` asks for.
    pub async fn send(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
    ) -> Result<Exchange, HttpError> {
        let mut connects = 0;
        let reused = self.stream.is_some();
        if !reused {
            self.connect().await?;
            connects += 1;
        }
        let first = self.once(wire, head, parts).await;
        let result = match first {
            Err(e) if reused && retryable(e) => {
                self.close();
                self.connect().await?;
                connects += 1;
                self.once(wire, head, parts).await
            }
            other => other,
        };
        match result {
            Ok(response) => {
                if !response.keep_alive {
                    self.close();
                }
                Ok(Exchange { response, connects })
            }
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    async fn once(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
    ) -> Result<Response, HttpError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(HttpError::ClosedBeforeResponse);
        };
        stream.write_all(wire).await.map_err(HttpError::from_io)?;
        read_response(stream, &mut self.buf, head, parts).await
    }
}

fn retryable(e: HttpError) -> bool {
    matches!(
        e,
        HttpError::ClosedBeforeResponse
            | HttpError::Io(ErrorKind::Reset)
            | HttpError::Io(ErrorKind::Closed)
    )
}
