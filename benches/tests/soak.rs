//! The bounded soak of `cargo test`: 2,000,000 mixed operations of the whole runtime (the
//! `schedbench stress` engine) with exact accounting and a flat heap after the warm-up
//! checkpoint (under 0.25 MiB per further million operations).

use benches::stress::{self, StressConfig};

#[test]
fn two_million_mixed_operations_balance_and_keep_the_heap_flat() {
    let cfg = StressConfig {
        seed: 0x5eed,
        ops: Some(2_000_000),
        seconds: None,
        workers: 2,
        window: 256,
        checkpoint_every: 250_000,
        max_growth_mib_per_million: 0.25,
        verbose: false,
    };
    let report = stress::run(&cfg, |_| {});
    assert!(report.balance.holds(), "lost:\n{}", report.balance);
    assert_eq!(report.live_tasks, 0, "tasks left live");
    let growth = report.growth_mib_per_million.expect("enough checkpoints");
    assert!(growth <= 0.25, "heap grew {growth:.3} MiB per million ops: {:?}", report.checkpoints);
}
