//! Template functions (`{{ randomInt(1, 100) }}`, `{{ uuid() }}` …) and the per-user RNG.
//!
//! Part of the flow compiler: a call is parsed and its arguments checked once, at plan
//! load, into a [`Func`]; rendering a request only evaluates it into the output buffer
//! (no parsing, no allocation). Randomness comes from a small per-virtual-user generator
//! ([`Rng`], wyrand), so no user ever waits on a shared lock for a random number.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The function names a template may call, for messages and did-you-mean.
pub const NAMES: &[&str] = &[
    "randomInt",
    "randomString",
    "uuid",
    "timestamp",
    "vu",
    "iteration",
];

/// Longest string `randomString(n)` may produce.
pub const MAX_RANDOM_STRING: u32 = 65_536;

/// A checked function call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `randomInt(a, b)`: a whole number from `a` to `b`, both included.
    RandomInt {
        /// Smallest value.
        lo: i64,
        /// Largest value.
        hi: i64,
    },
    /// `randomString(n)`: `n` random letters and digits.
    RandomString(u32),
    /// `uuid()`: a random (version 4) UUID.
    Uuid,
    /// `timestamp()`: milliseconds since the Unix epoch.
    Timestamp,
    /// `vu()`: the virtual user's number, from 1.
    Vu,
    /// `iteration()`: the user's iteration number, from 0.
    Iteration,
}

/// What a function may read while rendering.
pub struct FuncCtx<'a> {
    /// 1-based virtual-user number.
    pub vu: u64,
    /// 0-based iteration number of this user.
    pub iteration: u64,
    /// The user's random generator.
    pub rng: &'a mut Rng,
}

impl Func {
    /// Check a call `name(args…)`; the message names what is wrong.
    pub fn parse(name: &str, args: &[&str]) -> Result<Func, String> {
        let want = |n: usize, form: &str| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "`{name}` takes {n} argument{}, found {}; write `{form}`",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ))
            }
        };
        let int = |a: &str| -> Result<i64, String> {
            a.trim()
                .replace('_', "")
                .parse::<i64>()
                .map_err(|_| format!("`{a}` is not a whole number (in `{name}`)"))
        };
        match name {
            "randomInt" => {
                want(2, "randomInt(1, 100)")?;
                let (lo, hi) = (int(args[0])?, int(args[1])?);
                if lo > hi {
                    return Err(format!(
                        "`randomInt({lo}, {hi})`: the first bound must not be larger than the second"
                    ));
                }
                Ok(Func::RandomInt { lo, hi })
            }
            "randomString" => {
                want(1, "randomString(16)")?;
                let n = int(args[0])?;
                match u32::try_from(n) {
                    Ok(n) if (1..=MAX_RANDOM_STRING).contains(&n) => Ok(Func::RandomString(n)),
                    _ => Err(format!(
                        "`randomString({n})`: the length must be from 1 to {MAX_RANDOM_STRING}"
                    )),
                }
            }
            "uuid" => want(0, "uuid()").map(|()| Func::Uuid),
            "timestamp" => want(0, "timestamp()").map(|()| Func::Timestamp),
            "vu" => want(0, "vu()").map(|()| Func::Vu),
            "iteration" => want(0, "iteration()").map(|()| Func::Iteration),
            other => {
                let hint = match crate::util::did_you_mean(other, NAMES) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => format!("; known functions: {}", NAMES.join(", ")),
                };
                Err(format!("unknown function `{other}`{hint}"))
            }
        }
    }

    /// Append the value to `out`.
    pub fn eval(self, cx: &mut FuncCtx<'_>, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        match self {
            Func::RandomInt { lo, hi } => {
                let _ = write!(out, "{}", cx.rng.range_i64(lo, hi));
            }
            Func::RandomString(n) => {
                const ALNUM: &[u8; 62] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                out.reserve(n as usize);
                for _ in 0..n {
                    out.push(ALNUM[cx.rng.below(62) as usize]);
                }
            }
            Func::Uuid => {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&cx.rng.next_u64().to_le_bytes());
                b[8..].copy_from_slice(&cx.rng.next_u64().to_le_bytes());
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        out.push(b'-');
                    }
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 0x0f)]);
                }
            }
            Func::Timestamp => {
                let ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let _ = write!(out, "{ms}");
            }
            Func::Vu => {
                let _ = write!(out, "{}", cx.vu);
            }
            Func::Iteration => {
                let _ = write!(out, "{}", cx.iteration);
            }
        }
    }
}

/// A small, fast, non-cryptographic generator (wyrand); one per virtual user.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (mixed, so neighbouring seeds diverge at once).
    pub fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
        r.next_u64();
        r
    }

    /// A generator for virtual user `id`: from `seed` (`--seed`) the same on every run,
    /// without one different on every run. `stream` keeps a user's independent uses
    /// (flow values, think time) from drawing the same numbers.
    pub fn for_user(id: u64, seed: Option<u64>, stream: u64) -> Rng {
        let base = seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let mut mixed = Rng::new(base ^ stream.wrapping_mul(0xe703_7ed1_a0b4_28db));
        Rng::new(mixed.next_u64() ^ id.wrapping_mul(0xa076_1d64_78bd_642f))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A number in `0..n` (`n` ≥ 1), by multiply-shift (bias below 2⁻³² for small `n`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number from `lo` to `hi`, both included (`lo` ≤ `hi`).
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
        let pick = if span > u128::from(u64::MAX) {
            u128::from(self.next_u64())
        } else {
            u128::from(self.below(span as u64))
        };
        (i128::from(lo) + pick as i128) as i64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn eval(f: Func, rng: &mut Rng) -> String {
        let mut out = Vec::new();
        f.eval(
            &mut FuncCtx {
                vu: 7,
                iteration: 3,
                rng,
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parse_checks_arguments() {
        assert_eq!(
            Func::parse("randomInt", &["1", " 100"]),
            Ok(Func::RandomInt { lo: 1, hi: 100 })
        );
        assert!(
            Func::parse("randomInt", &["5", "1"])
                .unwrap_err()
                .contains("must not be larger")
        );
        assert!(
            Func::parse("randomInt", &["1"])
                .unwrap_err()
                .contains("takes 2 arguments, found 1")
        );
        assert!(
            Func::parse("randomString", &["0"])
                .unwrap_err()
                .contains("from 1 to")
        );
        assert!(
            Func::parse("uuid", &["x"])
                .unwrap_err()
                .contains("takes 0 arguments")
        );
        assert_eq!(
            Func::parse("randomint", &["1", "2"]).unwrap_err(),
            "unknown function `randomint` (did you mean `randomInt`?)"
        );
    }

    #[test]
    fn values_have_the_right_shape() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let n: i64 = eval(Func::RandomInt { lo: -3, hi: 3 }, &mut rng)
                .parse()
                .unwrap();
            assert!((-3..=3).contains(&n));
        }
        let all = Func::RandomInt {
            lo: i64::MIN,
            hi: i64::MAX,
        };
        eval(all, &mut rng).parse::<i64>().unwrap();
        let s = eval(Func::RandomString(20), &mut rng);
        assert_eq!(s.len(), 20);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        let u = eval(Func::Uuid, &mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_eq!(eval(Func::Vu, &mut rng), "7");
        assert_eq!(eval(Func::Iteration, &mut rng), "3");
        assert!(eval(Func::Timestamp, &mut rng).parse::<u64>().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn rng_covers_the_range() {
        let mut rng = Rng::new(42);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[rng.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}
