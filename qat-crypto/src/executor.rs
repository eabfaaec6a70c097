//! The bounded in-flight executor behind every batch call and every stream: work runs on
//! persistent worker threads, one pool per size asked for (`in_flight`), kept for the life of
//! the process, so each worker's library state (ISA-L and libdeflate compressors, zstd
//! contexts, QATzip sessions) is built once and reused by every later batch. Results come back
//! in request order. With `in_flight` 1 everything runs on the calling thread: the
//! single-threaded path, with no worker at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The pool of `threads` workers, made on first need.
fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    static POOLS: Mutex<BTreeMap<usize, Arc<rayon::ThreadPool>>> = Mutex::new(BTreeMap::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pools.entry(threads).or_insert_with(|| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("qatkit-worker-{i}"))
            .build()
            .expect("spawning the worker threads");
        Arc::new(pool)
    });
    Arc::clone(pool)
}

/// Runs `op` on every item, up to `in_flight` at once; returns the results in item order.
pub(crate) fn run<T: Send, E: Send>(
    in_flight: usize,
    items: &mut [T],
    op: impl Fn(&mut T) -> Result<(), E> + Sync,
) -> Vec<Result<(), E>> {
    if in_flight <= 1 || items.len() <= 1 {
        // One request alone runs where it was asked: no hand-off to pay for.
        return items.iter_mut().map(op).collect();
    }
    let mut results: Vec<Option<Result<(), E>>> = (0..items.len()).map(|_| None).collect();
    let op = &op;
    pool(in_flight).scope(|scope| {
        for (item, result) in items.iter_mut().zip(&mut results) {
            scope.spawn(move |_| *result = Some(op(item)));
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("the scope ran every item"))
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

/// Jobs that outlive the call that queued them, run on the pool of `in_flight` workers
/// (inline when `in_flight` is 1) and taken back in the order they were queued: the pipeline
/// of a stream, which reads ahead while workers compress and writes results in order.
pub(crate) struct Pipeline<T> {
    pool: Option<Arc<rayon::ThreadPool>>,
    depth: usize,
    queued: std::collections::VecDeque<Pending<T>>,
}

enum Pending<T> {
    Done(std::thread::Result<T>),
    Running(std::sync::mpsc::Receiver<std::thread::Result<T>>),
}

impl<T: Send + 'static> Pipeline<T> {
    /// A pipeline keeping `in_flight` jobs running and one queued behind them, so that the
    /// first worker to finish finds its next job ready; inline (one in flight), a job is done
    /// when queued, and one at a time is enough. No deeper: each queued job holds its input
    /// and output buffers, and every buffer costs its first touch (page faults are a few
    /// percent of a whole run).
    pub(crate) fn new(in_flight: usize) -> Self {
        let in_flight = in_flight.max(1);
        Pipeline {
            pool: (in_flight > 1).then(|| pool(in_flight)),
            depth: match in_flight {
                1 => 1,
                n => n + 1,
            },
            queued: Default::default(),
        }
    }

    /// Whether the next job should wait for the oldest to be taken.
    pub(crate) fn is_full(&self) -> bool {
        self.queued.len() >= self.depth
    }

    /// Whether no job is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Queues `job`.
    pub(crate) fn push(&mut self, job: impl FnOnce() -> T + Send + 'static) {
        let run = move || std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let pending = match &self.pool {
            None => Pending::Done(run()),
            Some(pool) => {
                let (done, result) = std::sync::mpsc::sync_channel(1);
                // A send fails only when the pipeline was dropped: nobody wants the result.
                pool.spawn(move || drop(done.send(run())));
                Pending::Running(result)
            }
        };
        self.queued.push_back(pending);
    }

    /// The oldest job's result, waiting for it; `None` when none is queued. A job's panic
    /// resumes here, on the caller's thread.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let result = match self.queued.pop_front()? {
            Pending::Done(result) => result,
            Pending::Running(result) => result
                .recv()
                .expect("a worker sends every job's result before it drops the sender"),
        };
        Some(result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    }

    /// The oldest job's result if it is done; `None` when it is not, or none is queued. For
    /// streams to pass on what is ready before they wait for more input, which may not come
    /// soon (a pipe).
    pub(crate) fn pop_done(&mut self) -> Option<T> {
        if let Pending::Running(result) = self.queued.front_mut()? {
            let done = result.try_recv().ok()?;
            self.queued[0] = Pending::Done(done);
        }
        self.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_their_order_and_reuse_the_workers() {
        let inputs: Vec<u64> = (0..100).collect();
        let threads = |in_flight| {
            let seen = Mutex::new(std::collections::HashSet::new());
            let out = map(in_flight, &inputs, |i| {
                seen.lock().unwrap().insert(std::thread::current().id());
                Ok::<_, ()>(i * 2)
            });
            assert_eq!(
                out.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
                inputs.iter().map(|i| i * 2).collect::<Vec<_>>()
            );
            seen.into_inner().unwrap()
        };
        // The same three workers served every batch: no thread was made anew.
        let mut all = threads(3);
        all.extend(threads(3));
        all.extend(threads(3));
        assert!(all.len() <= 3, "{all:?}");
        assert!(!all.contains(&std::thread::current().id()));
        assert_eq!(threads(1), [std::thread::current().id()].into());
    }

    #[test]
    fn a_pipeline_gives_results_in_queue_order_and_passes_panics_on() {
        for in_flight in [1, 2, 4] {
            let mut pipeline = Pipeline::new(in_flight);
            let mut taken = Vec::new();
            for i in 0..20u64 {
                if pipeline.is_full() {
                    taken.push(pipeline.pop().unwrap());
                }
                // Later jobs finish first: order must come from the queue, not the clock.
                pipeline.push(move || {
                    std::thread::sleep(std::time::Duration::from_micros(200 * (20 - i)));
                    i
                });
            }
            while let Some(i) = pipeline.pop_done().or_else(|| pipeline.pop()) {
                taken.push(i);
            }
            assert_eq!(taken, (0..20).collect::<Vec<_>>());
        }
        let mut pipeline = Pipeline::<()>::new(2);
        pipeline.push(|| panic!("a job failed"));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.pop()));
        assert!(caught.is_err());
    }
}
