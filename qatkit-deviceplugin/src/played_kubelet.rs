//! A kubelet played for tests and checks: the Registration service on `kubelet.sock` in a
//! directory, handing each request it receives to the caller. (There is no kubelet where
//! qatkit's tests run; this is the side of the protocol the plugin talks to.)

use std::path::Path;

use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::{Request, Response, Status};

use crate::api::registration_server::{Registration, RegistrationServer};
use crate::api::{Empty, KUBELET_SOCKET, RegisterRequest};

struct Registrar(mpsc::UnboundedSender<RegisterRequest>);

#[tonic::async_trait]
impl Registration for Registrar {
    async fn register(&self, request: Request<RegisterRequest>) -> Result<Response<Empty>, Status> {
        let _ = self.0.send(request.into_inner());
        Ok(Response::new(Empty {}))
    }
}

/// Serves `kubelet.sock` in `dir` on the current runtime; the registrations arrive on the
/// receiver, in order.
pub fn start(dir: &Path) -> std::io::Result<mpsc::UnboundedReceiver<RegisterRequest>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = UnixListener::bind(dir.join(KUBELET_SOCKET))?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RegistrationServer::new(Registrar(tx)))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    Ok(rx)
}
