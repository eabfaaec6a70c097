//! The bounded in-flight executor behind every batch call: up to `in_flight` requests run at
//! once (the calling thread and threads scoped to the call), and results come back in input
//! order. One-shot calls are batches of one, run on the calling thread.

use std::sync::Mutex;

/// Runs `op` on every input and its output, up to `in_flight` at once; returns the results in
/// input order.
pub(crate) fn run<I: Sync, O: Send, E: Send>(
    in_flight: usize,
    inputs: &[I],
    outs: &mut [O],
    op: impl Fn(&I, &mut O) -> Result<(), E> + Sync,
) -> Vec<Result<(), E>> {
    let workers = in_flight.min(inputs.len());
    if workers <= 1 {
        return inputs
            .iter()
            .zip(outs.iter_mut())
            .map(|(i, o)| op(i, o))
            .collect();
    }
    let work = Mutex::new(inputs.iter().zip(outs.iter_mut()).enumerate());
    let results = Mutex::new((0..inputs.len()).map(|_| None).collect::<Vec<_>>());
    let worker = || {
        loop {
            let next = work.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((at, (input, out))) = next else {
                break;
            };
            let result = op(input, out);
            results.lock().unwrap_or_else(|e| e.into_inner())[at] = Some(result);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(worker);
        }
        // The calling thread is a worker too: its per-thread library state is reused from one
        // batch to the next.
        worker();
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every input was taken by a worker"))
        .collect()
}
