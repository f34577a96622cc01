//! Four client threads share one limiter while they send requests to a local server: the
//! server sees the burst at once, then the paced rate, whatever the number of clients.
//!
//! ```text
//! cargo run --release -p rate-limit --example paced_client -- [requests-per-second] [burst]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rate_limit::{Gcra, Rate, RateLimiter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let per_second = args.next().transpose()?.unwrap_or(200);
    let burst = u32::try_from(args.next().transpose()?.unwrap_or(20))?;

    // The server: answers each line with "ok", and notes when each request came.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<Vec<Instant>> {
        let mut arrivals = Vec::new();
        let clients: Vec<TcpStream> = (0..4)
            .map(|_| listener.accept().map(|(s, _)| s))
            .collect::<Result<_, _>>()?;
        let (tx, rx) = std::sync::mpsc::channel();
        for client in clients {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut writer = client.try_clone().expect("a socket clones");
                writer
                    .set_nodelay(true)
                    .expect("a TCP socket takes TCP_NODELAY");
                for line in BufReader::new(client).lines().map_while(Result::ok) {
                    if line == "bye" {
                        break;
                    }
                    let _ = tx.send(Instant::now());
                    if writer.write_all(b"ok\n").is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        arrivals.extend(rx);
        Ok(arrivals)
    });

    let run = Duration::from_secs(2);
    let limiter = Arc::new(Gcra::new(Rate::per_second(per_second), burst)?);
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|id| {
            let limiter = Arc::clone(&limiter);
            std::thread::spawn(move || -> std::io::Result<u64> {
                let mut stream = TcpStream::connect(address)?;
                // Small requests, one at a time: without this, Nagle and delayed ACKs
                // would pace them instead of the limiter.
                stream.set_nodelay(true)?;
                let mut replies = BufReader::new(stream.try_clone()?).lines();
                let mut sent = 0;
                while started.elapsed() < run {
                    // Waits its turn: the four clients together stay within the rate.
                    if limiter.acquire_timeout(Duration::from_millis(100)).is_err() {
                        continue;
                    }
                    writeln!(stream, "GET /item/{id}/{sent}")?;
                    replies.next().transpose()?;
                    sent += 1;
                }
                writeln!(stream, "bye")?;
                Ok(sent)
            })
        })
        .collect();
    let mut total = 0;
    for client in clients {
        total += client.join().expect("a client thread panicked")?;
    }
    let elapsed = started.elapsed();
    let arrivals = server.join().expect("the server thread panicked")?;
    let first_second = arrivals
        .iter()
        .filter(|&&t| t < started + Duration::from_secs(1))
        .count();
    println!("{total} requests in {elapsed:.2?} from 4 clients, limit {per_second}/s with a burst of {burst}");
    let most = f64::from(burst) + per_second as f64 * elapsed.as_secs_f64();
    println!("  at most {most:.0} allowed: the burst, plus the rate over the time elapsed");
    println!(
        "  the server saw {} requests, {first_second} of them in the first second",
        arrivals.len()
    );
    Ok(())
}
