//! PutMetricData after the response: a Lambda internal extension that sends the
//! [`CloudWatchSink`]'s points once the invocation's response has been posted (feature
//! `extension`).
//!
//! Inline, a flush of the [`CloudWatchSink`] waits for PutMetricData, so CloudWatch's latency is
//! added to the caller's. Lambda does not freeze an execution environment until the runtime has
//! asked for the next invocation *and* every registered extension has asked for its next event;
//! an internal extension (one that runs in the function's own process) can therefore work after
//! the response has gone out. [`CloudWatchSinkBuilder::build_after_response`] gives the sink and
//! its [`AfterResponse`] as a pair; [`AfterResponse::run`] registers the extension (during init,
//! before the runtime's first `/next`), then runs the runtime and the extension together:
//!
//! 1. the handler's flush only puts its points in the sink's bounded buffer (the same bound and
//!    the same [`crate::DROPPED_METRIC`] count as inline);
//! 2. the runtime posts the response (`/invocation/{id}/response` or `/error`), unchanged;
//! 3. for that invocation's `INVOKE` event, the extension waits until the runtime has posted the
//!    response *of that request id*, then sends what is buffered with PutMetricData, then asks for
//!    its next event, which lets Lambda freeze the environment.
//!
//! The caller gets the response without waiting for CloudWatch; the time the extension spends
//! after the response is still part of the invocation's billed duration.
//!
//! **Shutdown.** Lambda refuses `SHUTDOWN` to internal extensions
//! (`ShutdownEventNotSupportedForInternalExtension`); instead, a function with an extension gets
//! `SIGTERM`, and 500 ms before `SIGKILL` when its extensions are all internal. On `SIGTERM`,
//! [`AfterResponse::run`] sends what is still buffered (points of an invocation whose send
//! failed, or flushed after its response) within [`AfterResponse::shutdown_timeout`] and returns
//! `Ok(())`: return from `main` then.
//!
//! **Outside Lambda**, or before [`AfterResponse::run`] has registered the extension, or after it
//! has returned, the sink sends inline, exactly like one from [`CloudWatchSinkBuilder::build`]:
//! nothing is left in a buffer that no one sends. If the Extensions API refuses the registration,
//! the error is logged and the function runs with the inline sink.
//!
//! **Invocations in flight at once.** The extension matches each `INVOKE` to the response of its
//! own request id, whichever order they come in; [`AfterResponse::run`] drives the runtime with
//! [`Runtime::run`], one invocation at a time (Lambda Managed Instances' multi-concurrency,
//! `Runtime::run_concurrent`, is not driven here). A send takes whatever is buffered, so points
//! of another invocation may go with it: none is sent twice, none waits longer than the next
//! send.
//!
//! ```no_run
//! use lambda_runtime::{LambdaEvent, Runtime, service_fn};
//! use saas_metrics::{CloudWatchSink, Metrics};
//!
//! # fn verified_tenant(
//! #     _: &LambdaEvent<serde_json::Value>,
//! # ) -> Result<saas_core::TenantContext, lambda_runtime::Error> {
//! #     Ok(saas_core::TenantContext::builder("tenant-a").build())
//! # }
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//!     let client = aws_sdk_cloudwatch::Client::new(&config);
//!     let (sink, after_response) = CloudWatchSink::builder(client).build_after_response();
//!     let metrics = Metrics::builder("TodoApp")?.service("todo")?.sink(sink).build();
//!
//!     let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| {
//!         let metrics = metrics.clone();
//!         async move {
//!             let m = metrics.for_tenant(&verified_tenant(&event)?);
//!             m.count("TodosCreated", 1.0)?;
//!             m.flush().await?; // only buffers: PutMetricData goes after the response
//!             Ok::<_, lambda_runtime::Error>(serde_json::json!({ "ok": true }))
//!         }
//!     });
//!     // Instead of `lambda_runtime::run(handler)`; for lambda_http: `lambda_http::runtime(app)`.
//!     let runtime = Runtime::new(handler).layer(lambda_runtime::layers::TracingLayer::new());
//!     after_response.run(runtime).await?;
//!     Ok(())
//! }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_extension::{Extension, LambdaEvent, NextEvent, RegisteredExtension};
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaInvocation, Runtime};
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::sink::cloudwatch::CloudWatchSink;

#[cfg(doc)]
use crate::sink::cloudwatch::CloudWatchSinkBuilder;

/// The extension's name unless [`AfterResponse::name`] gives another: unique among a function's
/// extensions.
pub const DEFAULT_EXTENSION_NAME: &str = "saas-metrics";

/// How long the points still buffered at `SIGTERM` may take to send, unless
/// [`AfterResponse::shutdown_timeout`] says otherwise: within the 500 ms Lambda leaves a function
/// whose extensions are all internal.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(400);

/// The most request ids of finished invocations kept while no `INVOKE` has claimed them.
const MAX_UNCLAIMED: usize = 1024;

/// The Lambda extension of one [`CloudWatchSink`], made with it by
/// [`CloudWatchSinkBuilder::build_after_response`]; [`AfterResponse::run`] runs it beside the
/// Lambda runtime. See [the module](self).
#[must_use = "without `AfterResponse::run` the sink sends inline"]
pub struct AfterResponse {
    sink: CloudWatchSink,
    name: String,
    shutdown_timeout: Duration,
}

impl fmt::Debug for AfterResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterResponse")
            .field("name", &self.name)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("sink", &self.sink)
            .finish()
    }
}

impl AfterResponse {
    pub(crate) fn new(sink: CloudWatchSink) -> Self {
        AfterResponse {
            sink,
            name: DEFAULT_EXTENSION_NAME.to_owned(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// The name the extension registers with ([`DEFAULT_EXTENSION_NAME`]); Lambda refuses a
    /// second extension of the same name.
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// How long the points still buffered at `SIGTERM` may take to send
    /// ([`DEFAULT_SHUTDOWN_TIMEOUT`]); what is not sent by then is lost, and logged.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Registers the extension for `INVOKE` events, then runs `runtime` (with [`Runtime::run`])
    /// and the extension together until Lambda ends the environment. Call it where the function
    /// would call `runtime.run()`: before it, no invocation may have been asked for, since Lambda
    /// takes registrations only during init.
    ///
    /// While it runs, the sink's flushes only buffer and each invocation's points are sent once
    /// its response has been posted. On `SIGTERM` it sends what is left (within
    /// [`AfterResponse::shutdown_timeout`]) and returns `Ok(())`. If the Extensions API refuses
    /// the registration (or `AWS_LAMBDA_RUNTIME_API` is not set), it logs the error and runs the
    /// runtime alone, with the sink sending inline.
    ///
    /// # Errors
    /// [`Error::Lambda`] when the runtime's loop or the extension's ends with an error (the
    /// Runtime or Extensions API failed): the process should then exit, for Lambda to start a
    /// new environment. What is buffered is sent first, as at `SIGTERM`.
    pub async fn run<S>(self, runtime: Runtime<S>) -> Result<()>
    where
        S: Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
    {
        let (done, finished) = mpsc::unbounded_channel();
        // Outermost: its future ends once the runtime has posted the response (or the error).
        let runtime = runtime.layer(MarkDoneLayer(done));
        let Some(extension) = self.register(finished).await else {
            return runtime.run().await.map_err(|source| Error::Lambda {
                api: "runtime",
                source,
            });
        };
        let mut terminated = Terminated::install();
        self.sink.set_deferred(true);
        let ended = tokio::select! {
            biased;
            result = runtime.run() => result.map_err(|source| Error::Lambda {
                api: "runtime",
                source,
            }),
            // Its loop ends only with an error.
            result = extension.run() => Err(Error::Lambda {
                api: "extension",
                source: result.err().unwrap_or_else(|| "the event loop ended".into()),
            }),
            () = terminated.recv() => Ok(()),
        };
        self.sink.set_deferred(false);
        if let Err(e) = &ended {
            tracing::error!(error = %e, "Lambda loop ended; sending the metrics still buffered");
        }
        send_within(&self.sink, self.shutdown_timeout).await;
        ended
    }

    /// Registers the extension, or logs why not.
    async fn register(
        &self,
        finished: mpsc::UnboundedReceiver<String>,
    ) -> Option<RegisteredExtension<impl Service<LambdaEvent, Response = (), Error = Infallible>>>
    {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
            tracing::warn!(
                "AWS_LAMBDA_RUNTIME_API is not set: no metrics extension, PutMetricData inline"
            );
            return None;
        }
        let state = Arc::new(Mutex::new(Invocations::new(finished)));
        let sink = self.sink.clone();
        let processor = lambda_extension::service_fn(move |event: LambdaEvent| {
            let state = state.clone();
            let sink = sink.clone();
            async move {
                on_event(&state, &sink, event.next).await;
                Ok::<(), Infallible>(())
            }
        });
        let registered = Extension::new()
            .with_extension_name(&self.name)
            // Internal extensions get no SHUTDOWN event (Lambda refuses it): SIGTERM instead.
            .with_events(&["INVOKE"])
            .with_events_processor(processor)
            .register()
            .await;
        match registered {
            Ok(registered) => Some(registered),
            Err(e) => {
                tracing::error!(error = %e, extension = %self.name,
                    "registering the metrics extension failed: PutMetricData inline");
                None
            }
        }
    }
}

/// One event of the extension: an `INVOKE` waits for its invocation's response, then sends.
async fn on_event(state: &Mutex<Invocations>, sink: &CloudWatchSink, event: NextEvent) {
    match event {
        NextEvent::Invoke(invoke) => {
            let deadline = instant_of(invoke.deadline_ms);
            let waited = state
                .lock()
                .await
                .wait_for(&invoke.request_id, deadline)
                .await;
            match waited {
                Waited::Done => {}
                Waited::DeadlinePassed => tracing::warn!(
                    request_id = %invoke.request_id,
                    "no response posted by the invocation's deadline; sending the metrics anyway"
                ),
                Waited::RuntimeGone => {}
            }
            if let Err(e) = sink.send_buffered().await {
                tracing::warn!(error = %e, "metrics send after the response failed");
            }
        }
        // Never registered for (internal extensions get SIGTERM); if one comes, send what is left.
        NextEvent::Shutdown(shutdown) => {
            let left = instant_of(shutdown.deadline_ms)
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
            send_within(sink, left.min(DEFAULT_SHUTDOWN_TIMEOUT)).await;
        }
    }
}

/// Sends what is buffered, giving up after `timeout`; logs what could not be sent.
async fn send_within(sink: &CloudWatchSink, timeout: Duration) {
    let buffered = sink.buffered();
    if buffered == 0 && sink.dropped() == 0 {
        return;
    }
    match tokio::time::timeout(timeout, sink.send_buffered()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics send at shutdown failed"),
        Err(_) => tracing::warn!(
            points = buffered,
            ?timeout,
            "metrics send at shutdown timed out: points lost"
        ),
    }
}

/// The [`Instant`] of a deadline in milliseconds since the epoch; `None` past 15 minutes ahead
/// (not an invocation's deadline).
fn instant_of(deadline_ms: u64) -> Option<Instant> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let left = Duration::from_millis(deadline_ms).saturating_sub(now);
    (left <= Duration::from_secs(15 * 60)).then(|| Instant::now() + left)
}

/// How waiting for an invocation's response ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// The runtime posted it.
    Done,
    /// Its deadline passed first.
    DeadlinePassed,
    /// The runtime's loop is gone: no response will be marked any more.
    RuntimeGone,
}

/// The request ids of the invocations whose response the runtime has posted.
struct Invocations {
    finished: mpsc::UnboundedReceiver<String>,
    /// Finished, not yet claimed by their `INVOKE` (which may come after the response).
    unclaimed: VecDeque<String>,
    runtime_gone: bool,
}

impl Invocations {
    fn new(finished: mpsc::UnboundedReceiver<String>) -> Self {
        Invocations {
            finished,
            unclaimed: VecDeque::new(),
            runtime_gone: false,
        }
    }

    /// Until the response of `request_id` has been posted, or `deadline` (none: no limit).
    async fn wait_for(&mut self, request_id: &str, deadline: Option<Instant>) -> Waited {
        loop {
            if let Some(at) = self.unclaimed.iter().position(|id| id == request_id) {
                self.unclaimed.remove(at);
                return Waited::Done;
            }
            if self.runtime_gone {
                return Waited::RuntimeGone;
            }
            let next = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, self.finished.recv()).await,
                None => Ok(self.finished.recv().await),
            };
            match next {
                Ok(Some(id)) => {
                    if self.unclaimed.len() == MAX_UNCLAIMED {
                        self.unclaimed.pop_front();
                    }
                    self.unclaimed.push_back(id);
                }
                Ok(None) => self.runtime_gone = true,
                Err(_) => return Waited::DeadlinePassed,
            }
        }
    }
}

/// `SIGTERM`, Lambda's notice of shutdown to a function with extensions. Installed before the
/// runtime runs, so that none is missed; without a signal handler (not unix) it never comes.
struct Terminated {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Terminated {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::terminate())
                .map_err(|e| {
                    tracing::warn!(error = %e, "no SIGTERM handler: no metrics sent at shutdown");
                })
                .ok();
            Terminated { signal }
        }
        #[cfg(not(unix))]
        Terminated {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal
            && signal.recv().await.is_some()
        {
            tracing::info!("SIGTERM: sending the metrics still buffered");
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// Marks each invocation done, by request id, once the services inside have posted its response.
struct MarkDoneLayer(mpsc::UnboundedSender<String>);

impl<S> Layer<S> for MarkDoneLayer {
    type Service = MarkDone<S>;

    fn layer(&self, inner: S) -> MarkDone<S> {
        MarkDone {
            inner,
            done: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct MarkDone<S> {
    inner: S,
    done: mpsc::UnboundedSender<String>,
}

impl<S> Service<LambdaInvocation> for MarkDone<S>
where
    S: Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = MarkDoneFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let mark = Mark {
            request_id: invocation.context.request_id.clone(),
            done: self.done.clone(),
        };
        MarkDoneFuture {
            inner: self.inner.call(invocation),
            mark: Some(mark),
        }
    }
}

pin_project_lite::pin_project! {
    struct MarkDoneFuture<F> {
        #[pin]
        inner: F,
        mark: Option<Mark>,
    }
}

impl<F: Future> Future for MarkDoneFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        this.mark.take();
        Poll::Ready(output)
    }
}

/// Sends its request id when dropped: when the invocation's future ends, or is dropped unfinished
/// (then no response will come either, and the extension must not wait for one).
struct Mark {
    request_id: String,
    done: mpsc::UnboundedSender<String>,
}

impl Drop for Mark {
    fn drop(&mut self) {
        // Fails only once the extension is gone, which then waits for nothing.
        let _ = self.done.send(std::mem::take(&mut self.request_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocations() -> (mpsc::UnboundedSender<String>, Invocations) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Invocations::new(rx))
    }

    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(50))
    }

    #[tokio::test]
    async fn each_invoke_waits_for_its_own_request_id_in_any_order() {
        let (tx, mut inv) = invocations();
        // Responses may be posted before the extension reads the INVOKE, and out of order.
        tx.send("b".into()).unwrap();
        tx.send("a".into()).unwrap();
        assert_eq!(inv.wait_for("a", soon()).await, Waited::Done);
        assert_eq!(inv.wait_for("b", soon()).await, Waited::Done);
        // Claimed once: a second INVOKE of the same id waits again.
        assert_eq!(inv.wait_for("a", soon()).await, Waited::DeadlinePassed);
        let waiter = tokio::spawn(async move { inv.wait_for("c", None).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "waited for nothing");
        tx.send("d".into()).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "another request's response ended the wait"
        );
        tx.send("c".into()).unwrap();
        assert_eq!(waiter.await.unwrap(), Waited::Done);
    }

    #[tokio::test]
    async fn a_wait_ends_at_the_deadline_or_when_the_runtime_is_gone() {
        let (tx, mut inv) = invocations();
        let started = Instant::now();
        assert_eq!(
            inv.wait_for("x", Some(started + Duration::from_millis(30)))
                .await,
            Waited::DeadlinePassed
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        tx.send("y".into()).unwrap();
        drop(tx);
        assert_eq!(inv.wait_for("x", None).await, Waited::RuntimeGone);
        // What was finished before is still claimed.
        assert_eq!(inv.wait_for("y", None).await, Waited::Done);
    }

    #[tokio::test]
    async fn unclaimed_ids_stay_bounded() {
        let (tx, mut inv) = invocations();
        for i in 0..MAX_UNCLAIMED + 10 {
            tx.send(i.to_string()).unwrap();
        }
        assert_eq!(
            inv.wait_for("last", Some(Instant::now())).await,
            Waited::DeadlinePassed
        );
        // The oldest went first.
        assert_eq!(inv.unclaimed.len(), MAX_UNCLAIMED);
        assert_eq!(inv.wait_for("10", soon()).await, Waited::Done);
        assert_eq!(inv.wait_for("9", soon()).await, Waited::DeadlinePassed);
    }

    #[test]
    fn deadlines_become_instants() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let at = instant_of(now_ms + 3_000).unwrap();
            let left = at - Instant::now();
            assert!(left > Duration::from_millis(2_500) && left <= Duration::from_secs(3));
            // Past: now; absurdly far: no deadline.
            assert!(instant_of(now_ms - 5_000).unwrap() <= Instant::now());
            assert_eq!(instant_of(u64::MAX), None);
        });
    }

    #[tokio::test]
    async fn an_invocation_is_marked_done_when_its_future_ends_or_is_dropped() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let finished = MarkDoneFuture {
            inner: std::future::ready(()),
            mark: Some(Mark {
                request_id: "r1".into(),
                done: tx.clone(),
            }),
        };
        let pending = MarkDoneFuture {
            inner: std::future::pending::<()>(),
            mark: Some(Mark {
                request_id: "r2".into(),
                done: tx,
            }),
        };
        assert!(rx.try_recv().is_err());
        finished.await;
        assert_eq!(rx.try_recv().unwrap(), "r1");
        drop(pending);
        assert_eq!(rx.try_recv().unwrap(), "r2");
    }
}
