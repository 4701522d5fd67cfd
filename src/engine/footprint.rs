//! Size ceilings for what every virtual user keeps for the whole run (ADR-050, ADR-160).
//!
//! At 10,000 connections each byte of a user's state costs 10 kB of RSS, and nothing else
//! notices when it grows: a new field, an argument held across an `.await`, or a cold path
//! awaited inline silently adds to every user's future. These tests pin the sizes so that
//! such a change fails here, where the reason is visible, instead of in a benchmark later.
//! The ceilings hold for debug builds (what `cargo test` compiles; release futures are
//! smaller, since optimized MIR overlaps more locals).

#[cfg(test)]
mod tests {
    use std::mem::size_of;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use crate::engine::Shared;
    use crate::engine::iteration::Vu;
    use crate::http::conn::Conn;
    use crate::http::response::ResponseParts;
    use crate::stats::Shard;

    fn shared() -> Arc<Shared> {
        let text = "base_url: http://127.0.0.1:9\nscenarios:\n  - name: a\n    path: /\n";
        let plan = crate::plan::load_str("t.yaml", text, &Default::default())
            .unwrap_or_else(|e| panic!("plan: {e:?}"));
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"));
        // Built as a run builds it: one unit of the plan's one load.
        let connector =
            crate::http::conn::Connector::new(&plan.http, &plan.target, plan.timeout, 1, addr)
                .unwrap_or_else(|e| panic!("{e}"));
        let program = crate::engine::flow::program::Program::build(&plan, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let units = crate::engine::workloads::units(
            &plan,
            addr,
            &Arc::new(connector),
            &Arc::new(program),
            1,
            Instant::now(),
        );
        units
            .into_iter()
            .next()
            .map(|u| u.shared)
            .unwrap_or_else(|| panic!("one unit"))
    }

    /// Debug-build sizes when these ceilings were set (ADR-160): `Vu` 280 bytes (`Conn` 152,
    /// `ResponseParts` 104; the flow state is boxed on first use), the closed-model user
    /// future 1,408, one fast-path iteration 1,032, `Conn::send` 808. A ceiling is the
    /// measured size plus a little room; raising one needs a reason in DECISION.md.
    #[test]
    fn per_user_state_stays_small() {
        let shared = shared();
        let shard = Arc::new(Mutex::new(Shard::new(1)));
        let user = crate::engine::worker::virtual_user(0, shared.clone(), shard.clone());
        let user_size = std::mem::size_of_val(&user);
        drop(user);
        let mut vu = Vu::new(0, &shared);
        let run = crate::engine::iteration::run(&shared, &mut vu, 0, Instant::now(), &shard);
        let run_size = std::mem::size_of_val(&run);
        drop(run);
        let mut parts = ResponseParts::default();
        let send = vu.conn.send(b"GET / HTTP/1.1\r\n\r\n", false, &mut parts);
        let send_size = std::mem::size_of_val(&send);
        drop(send);
        let sizes = [
            ("Vu", size_of::<Vu>(), 320),
            ("Conn", size_of::<Conn>(), 168),
            ("ResponseParts", size_of::<ResponseParts>(), 120),
            ("user future", user_size, 1_536),
            ("iteration future", run_size, 1_152),
            ("Conn::send future", send_size, 896),
        ];
        for (what, size, ceiling) in sizes {
            assert!(
                size <= ceiling,
                "{what} is {size} bytes, over its ceiling of {ceiling}: every virtual user \
                 holds it (10,000 users: {} kB). Box the cold part, or raise the ceiling \
                 with a reason (ADR-160).",
                size * 10
            );
        }
        // Plain single-request plans never allocate the flow state.
        assert!(vu.flow.is_none());
    }
}
