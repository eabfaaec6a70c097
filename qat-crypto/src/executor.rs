//! The bounded in-flight executor behind every batch call: up to `in_flight` requests run at
//! once (the calling thread and threads scoped to the call), and results come back in request
//! order.

use std::sync::Mutex;

/// Runs `op` on every item, up to `in_flight` at once; returns the results in item order.
pub(crate) fn run<T: Send, E: Send>(
    in_flight: usize,
    items: &mut [T],
    op: impl Fn(&mut T) -> Result<(), E> + Sync,
) -> Vec<Result<(), E>> {
    let workers = in_flight.min(items.len());
    if workers <= 1 {
        return items.iter_mut().map(op).collect();
    }
    let count = items.len();
    let work = Mutex::new(items.iter_mut().enumerate());
    let results = Mutex::new((0..count).map(|_| None).collect::<Vec<_>>());
    let worker = || {
        loop {
            let next = work.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((at, item)) = next else {
                break;
            };
            let result = op(item);
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
        .map(|r| r.expect("every item was taken by a worker"))
        .collect()
}

/// Runs `op` on every input, up to `in_flight` at once; returns its outputs in input order.
pub(crate) fn map<I: Sync, O: Send, E: Send>(
    in_flight: usize,
    inputs: &[I],
    op: impl Fn(&I) -> Result<O, E> + Sync,
) -> Vec<Result<O, E>> {
    let mut slots: Vec<(&I, Option<O>)> = inputs.iter().map(|i| (i, None)).collect();
    let results = run(in_flight, &mut slots, |(input, out)| {
        *out = Some(op(input)?);
        Ok(())
    });
    results
        .into_iter()
        .zip(slots)
        .map(|(result, (_, out))| result.map(|()| out.expect("an output for every success")))
        .collect()
}
