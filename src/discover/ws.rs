//! A minimal WebSocket client (RFC 6455) for Chromium's DevTools endpoint: text messages
//! both ways, fragmented messages, ping/pong and close.
//!
//! Why our own (ADR-200): the DevTools protocol needs only a plain-`ws://` client to a
//! loopback port of a process we started — no TLS, no extensions, no server side — which
//! is about 150 lines; `tungstenite` would bring a second `rand` (and `sha1`, `http`), which
//! `deny.toml` bans as duplicate versions. The handshake checks the `101` status and the
//! `Upgrade: websocket` header but not `Sec-WebSocket-Accept` (a SHA-1 of the key): the peer
//! is our own child process on 127.0.0.1, so the check would guard against nothing.
//!
//! Reading runs on a task of its own that sends whole messages down a channel, so a caller
//! can wait for the next message under a timeout without ever cutting a frame in half.

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// Largest message accepted (a rendered DOM of a huge page fits; more is an error).
pub const MAX_MESSAGE: usize = 64 << 20;

/// What the reading task delivers.
#[derive(Debug)]
pub enum Incoming {
    /// A whole text message.
    Text(String),
    /// A ping with its payload (answer with [`Ws::pong`]).
    Ping(Vec<u8>),
    /// The connection ended: the peer closed it, or a read or protocol error (named).
    Closed(String),
}

/// A connected client.
pub struct Ws {
    write: OwnedWriteHalf,
    /// Messages from the reading task.
    pub incoming: mpsc::UnboundedReceiver<Incoming>,
    mask_state: u64,
}

/// Connect to `ws://host:port/path` (`addr` is `host:port`) and finish the handshake.
pub async fn connect(addr: &str, path: &str) -> Result<Ws, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to ws://{addr}{path}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let seed = seed();
    let key = base64::engine::general_purpose::STANDARD
        .encode([seed.to_le_bytes(), seed.rotate_left(29).to_le_bytes()].concat());
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    write
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("ws://{addr}{path}: cannot send the handshake: {e}"))?;
    let mut read = BufReader::new(read);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = read
            .read_line(&mut line)
            .await
            .map_err(|e| format!("ws://{addr}{path}: handshake: {e}"))?;
        if n == 0 {
            return Err(format!("ws://{addr}{path}: closed during the handshake"));
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
        if head.len() > 16 * 1024 {
            return Err(format!("ws://{addr}{path}: handshake answer over 16 KiB"));
        }
    }
    let status = head.lines().next().unwrap_or("");
    let upgraded = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("upgrade") && v.trim().eq_ignore_ascii_case("websocket")
        })
    });
    if status.split_whitespace().nth(1) != Some("101") || !upgraded {
        return Err(format!(
            "ws://{addr}{path}: not a WebSocket upgrade (`{}`)",
            status.trim()
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(read, tx));
    Ok(Ws {
        write,
        incoming: rx,
        mask_state: seed | 1,
    })
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

impl Ws {
    /// Send one text message.
    pub async fn send(&mut self, text: &str) -> Result<(), String> {
        self.frame(0x1, text.as_bytes()).await
    }

    /// Answer a ping.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), String> {
        self.frame(0xA, payload).await
    }

    /// Start the closing handshake (best effort).
    pub async fn close(&mut self) {
        let _ = self.frame(0x8, &1000u16.to_be_bytes()).await;
    }

    async fn frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        // xorshift: client frames must be masked; the key need not be secret here.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.mask_state = x;
        let mask = (x as u32).to_be_bytes();
        let mut out = Vec::with_capacity(payload.len() + 14);
        out.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.write
            .write_all(&out)
            .await
            .map_err(|e| format!("DevTools connection: {e}"))
    }
}

async fn read_loop(mut r: BufReader<OwnedReadHalf>, tx: mpsc::UnboundedSender<Incoming>) {
    let end = match read_messages(&mut r, &tx).await {
        Ok(()) => "closed by Chromium".to_string(),
        Err(e) => e,
    };
    let _ = tx.send(Incoming::Closed(end));
}

async fn read_messages(
    r: &mut BufReader<OwnedReadHalf>,
    tx: &mpsc::UnboundedSender<Incoming>,
) -> Result<(), String> {
    let mut message: Vec<u8> = Vec::new();
    loop {
        let mut h = [0u8; 2];
        match r.read_exact(&mut h).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(format!("DevTools connection: {e}")),
        }
        let fin = h[0] & 0x80 != 0;
        let opcode = h[0] & 0x0F;
        let masked = h[1] & 0x80 != 0;
        let len = match h[1] & 0x7F {
            126 => u64::from(r.read_u16().await.map_err(|e| e.to_string())?),
            127 => r.read_u64().await.map_err(|e| e.to_string())?,
            n => u64::from(n),
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|n| message.len().saturating_add(*n) <= MAX_MESSAGE)
            .ok_or_else(|| format!("DevTools message over {MAX_MESSAGE} bytes"))?;
        let mut mask = [0u8; 4];
        if masked {
            r.read_exact(&mut mask)
                .await
                .map_err(|e| format!("DevTools connection: {e}"))?;
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)
            .await
            .map_err(|e| format!("DevTools connection: {e}"))?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            0x0..=0x2 => {
                message.extend_from_slice(&payload);
                if fin {
                    let text = String::from_utf8(std::mem::take(&mut message))
                        .map_err(|_| "DevTools sent a message that is not UTF-8".to_string())?;
                    if tx.send(Incoming::Text(text)).is_err() {
                        return Ok(());
                    }
                }
            }
            0x8 => return Ok(()),
            0x9 => {
                if tx.send(Incoming::Ping(payload)).is_err() {
                    return Ok(());
                }
            }
            0xA => {}
            op => return Err(format!("DevTools sent an unknown WebSocket opcode {op}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server speaking just enough WebSocket: answers the upgrade, then echoes
    /// one masked text message back unmasked in two fragments, then closes.
    #[test]
    fn talks_to_a_websocket_server() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap().to_string();
            tokio::spawn(async move {
                let (s, _) = l.accept().await.unwrap();
                let mut s = BufReader::new(s);
                let mut line = String::new();
                while s.read_line(&mut line).await.unwrap() > 2 {
                    line.clear();
                }
                s.get_mut()
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                    .await
                    .unwrap();
                let mut h = [0u8; 2];
                s.read_exact(&mut h).await.unwrap();
                assert_eq!(h[0], 0x81);
                assert_eq!(h[1] & 0x80, 0x80, "client frames are masked");
                let len = usize::from(h[1] & 0x7F);
                let mut mask = [0u8; 4];
                s.read_exact(&mut mask).await.unwrap();
                let mut p = vec![0u8; len];
                s.read_exact(&mut p).await.unwrap();
                for (i, b) in p.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
                let (a, b) = p.split_at(3);
                let mut out = vec![0x01, a.len() as u8];
                out.extend_from_slice(a);
                out.extend_from_slice(&[0x89, 1, b'!', 0x80, b.len() as u8]);
                out.extend_from_slice(b);
                out.extend_from_slice(&[0x88, 0]);
                s.get_mut().write_all(&out).await.unwrap();
            });
            let mut ws = connect(&addr, "/devtools/browser/x").await.unwrap();
            ws.send(r#"{"id":1}"#).await.unwrap();
            match ws.incoming.recv().await {
                Some(Incoming::Ping(p)) => assert_eq!(p, b"!"),
                other => panic!("{other:?}"),
            }
            match ws.incoming.recv().await {
                Some(Incoming::Text(t)) => assert_eq!(t, r#"{"id":1}"#),
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                ws.incoming.recv().await,
                Some(Incoming::Closed(_))
            ));
        });
    }

    #[test]
    fn a_plain_http_server_is_not_a_websocket() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap().to_string();
            tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
            let e = connect(&addr, "/x").await.err().unwrap();
            assert!(
                e.contains("not a WebSocket upgrade (`HTTP/1.1 404 Not Found`)"),
                "{e}"
            );
        });
    }
}
