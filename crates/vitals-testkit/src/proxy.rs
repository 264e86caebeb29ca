use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// What the [`FaultProxy`] does with new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways.
    Pass,
    /// Accept and never answer: reads nothing, writes nothing, keeps the connection open.
    Blackhole,
    /// Wait this long before connecting upstream and forwarding anything.
    Delay(Duration),
    /// Accept, then reset the connection (RST).
    Reset,
}

/// A TCP proxy on a free loopback port in front of `upstream`, whose behaviour for new
/// connections can be switched at any time. Stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    upstream: Arc<Mutex<SocketAddr>>,
    _stop: watch::Sender<()>,
    sever: watch::Sender<()>,
}

impl FaultProxy {
    /// Starts forwarding to `upstream` on a free loopback port (call inside a tokio runtime).
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        FaultProxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream).await
    }

    /// Starts forwarding to `upstream`, listening on `listen`.
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind(listen)
            .await
            .expect("bind the fault proxy");
        let addr = listener.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let upstream = Arc::new(Mutex::new(upstream));
        let (stop_tx, stop_rx) = watch::channel(());
        let (sever_tx, sever_rx) = watch::channel(());
        let shared = fault.clone();
        let target = upstream.clone();
        tokio::spawn(async move {
            let mut stop = stop_rx.clone();
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.changed() => return,
                };
                let Ok((client, _)) = accepted else { continue };
                let fault = *shared.lock().unwrap();
                let upstream = *target.lock().unwrap();
                let stop = stop_rx.clone();
                let mut sever = sever_rx.clone();
                sever.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        () = handle(client, upstream, fault, stop) => {}
                        _ = sever.changed() => {}
                    }
                });
            }
        });
        FaultProxy {
            addr,
            fault,
            upstream,
            _stop: stop_tx,
            sever: sever_tx,
        }
    }

    /// Closes every connection open now, both ways, as a server that dies does (new
    /// connections get the current fault).
    pub fn sever(&self) {
        self.sever.send_replace(());
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forwards connections accepted from now on to `upstream` (a server restarted elsewhere
    /// stays at the proxy's address).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    /// Applies `fault` to connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    mut stop: watch::Receiver<()>,
) {
    match fault {
        Fault::Pass => {}
        Fault::Blackhole => {
            // Hold the connection open and silent until the proxy stops.
            let _ = stop.changed().await;
            return;
        }
        Fault::Delay(delay) => {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return,
            }
        }
        Fault::Reset => {
            #[allow(deprecated)] // set_linger's close may block; it does not with a zero linger.
            let _ = client.set_linger(Some(Duration::ZERO));
            return;
        }
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = stop.changed() => {}
    }
}
