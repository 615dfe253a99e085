//! The server's time: the system clock, or a virtual clock for simulations and tests.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use en_protocol::UnixTime;

/// Where the server's time comes from: the system clock plus an offset (zero in production).
///
/// The simulator shares the offset to run the server on its virtual clock, so that a 21-day
/// simulation validates keys and closes batches as the real server would on those days.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<std::sync::atomic::AtomicI64>,
    is_virtual: bool,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }
    /// A clock whose reading the caller controls through [`Clock::set`].
    pub fn virtual_at(now: UnixTime) -> Self {
        let c = Clock {
            is_virtual: true,
            ..Clock::default()
        };
        c.set(now);
        c
    }
    /// True for a clock that may jump (the batch worker then checks for due windows often).
    pub fn is_virtual(&self) -> bool {
        self.is_virtual
    }
    /// Moves the clock so that it reads `now` at this instant.
    pub fn set(&self, now: UnixTime) {
        self.offset.store(
            now.0 as i64 - Self::real() as i64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    fn real() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    /// Now.
    pub fn now(&self) -> UnixTime {
        UnixTime(
            Self::real()
                .saturating_add_signed(self.offset.load(std::sync::atomic::Ordering::SeqCst)),
        )
    }
    /// A virtual clock that follows the Unix time written in `file` (re-read every 50 ms).
    /// For simulations only: lets `en-sim run --server` drive a separately started server.
    pub fn follow_file(file: std::path::PathBuf) -> Result<Self, crate::error::Error> {
        fn read(f: &std::path::Path) -> Option<u64> {
            std::fs::read_to_string(f).ok()?.trim().parse().ok()
        }
        let start = read(&file).ok_or_else(|| crate::error::Error::Config {
            file: file.clone(),
            message: "must contain a Unix time in seconds".into(),
        })?;
        let clock = Clock::virtual_at(UnixTime(start));
        let c = clock.clone();
        std::thread::spawn(move || {
            let mut last = start;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
                if let Some(now) = read(&file) {
                    if now != last {
                        c.set(UnixTime(now));
                        last = now;
                    }
                }
            }
        });
        Ok(clock)
    }
}
