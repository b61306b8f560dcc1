//! c10d bindings, two ranks as two threads of this process over a TCPStore on 127.0.0.1
//! (Gloo gives each rank its own context, so threads behave as processes would).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};
use torch_ext::c10d::{ProcessGroup, ReduceOp, Store};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `body(rank, group)` on `world` ranks and returns their results in rank order.
fn with_ranks<T: Send + 'static>(
    world: usize,
    body: impl Fn(usize, &ProcessGroup) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let (server, port) = Store::tcp("127.0.0.1", 0, world, true, TIMEOUT).expect("server store");
    let server = std::sync::Arc::new(server);
    let mut handles = Vec::new();
    for rank in 0..world {
        let body = body.clone();
        let server = server.clone();
        handles.push(thread::spawn(move || {
            let store = if rank == 0 {
                server.prefixed("default_pg").expect("prefix")
            } else {
                let (client, _) =
                    Store::tcp("127.0.0.1", port, world, false, TIMEOUT).expect("client store");
                client.prefixed("default_pg").expect("prefix")
            };
            let group =
                ProcessGroup::gloo(&store, rank, world, "127.0.0.1", TIMEOUT, 1).expect("gloo");
            body(rank, &group)
        }));
    }
    handles
        .into_iter()
        .map(|h| h.join().expect("rank thread"))
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).expect("f32 values")
}

#[test]
fn collectives_combine_ranks() {
    let results = with_ranks(2, |rank, g| {
        let r = rank as f32;
        let summed = Tensor::from_slice(&[1.0f32 + r, 10.0 * r]);
        g.all_reduce(&[&summed], ReduceOp::Sum).unwrap();
        let maxed = Tensor::from_slice(&[r, -r]);
        g.all_reduce(&[&maxed], ReduceOp::Max).unwrap();
        let sent = Tensor::from_slice(&[7.0f32 + r; 3]);
        g.broadcast(&[&sent], 1).unwrap();
        let gathered = g.all_gather(&Tensor::from_slice(&[r, r + 0.5])).unwrap();
        let inputs = [
            Tensor::from_slice(&[1.0f32 + r, 2.0]),
            Tensor::from_slice(&[3.0f32, 4.0 * (1.0 + r)]),
        ];
        let scattered = g
            .reduce_scatter(&[&inputs[0], &inputs[1]], ReduceOp::Sum)
            .unwrap();
        g.barrier().unwrap();
        (
            values(&summed),
            values(&maxed),
            values(&sent),
            gathered.iter().map(values).collect::<Vec<_>>(),
            values(&scattered),
        )
    });
    for (rank, (summed, maxed, sent, gathered, scattered)) in results.into_iter().enumerate() {
        assert_eq!(summed, vec![3.0, 10.0]);
        assert_eq!(maxed, vec![1.0, 0.0]);
        assert_eq!(sent, vec![8.0; 3]);
        assert_eq!(gathered, vec![vec![0.0, 0.5], vec![1.0, 1.5]]);
        let want = if rank == 0 {
            vec![3.0, 4.0]
        } else {
            vec![6.0, 12.0]
        };
        assert_eq!(scattered, want, "rank {rank}");
    }
}

/// Each rank's loss weighs the gathered rows with its own weights; a rank's input gradient
/// must be the sum over ranks of the weights on its rows, with different row counts per rank.
#[test]
fn differentiable_all_gather_sums_every_ranks_gradient() {
    let rows = [3i64, 2];
    let results = with_ranks(2, move |rank, g| {
        let input = Tensor::arange(rows[rank] * 4, (Kind::Float, Device::Cpu))
            .view([rows[rank], 4])
            .f_add_scalar(100.0 * rank as f64)
            .unwrap()
            .set_requires_grad(true);
        let gathered = g.all_gather_rows(&input).unwrap();
        let weights = Tensor::arange(20, (Kind::Float, Device::Cpu))
            .view([5, 4])
            .f_mul_scalar(1.0 + rank as f64)
            .unwrap();
        let loss = (&gathered * &weights).sum(Kind::Float);
        loss.backward();
        (values(&gathered), values(&input.grad()))
    });
    let all: Vec<f32> = (0..12)
        .map(|v| v as f32)
        .chain((0..8).map(|v| v as f32 + 100.0))
        .collect();
    let weights: Vec<f32> = (0..20).map(|v| v as f32 * 3.0).collect(); // (1 + 2) × arange
    for (rank, (gathered, grad)) in results.into_iter().enumerate() {
        assert_eq!(gathered, all, "rank {rank} gathered");
        let rows = if rank == 0 { 0..12 } else { 12..20 };
        assert_eq!(grad, weights[rows].to_vec(), "rank {rank} gradient");
    }
}

#[test]
fn store_shares_keys_and_counts() {
    let (server, port) = Store::tcp("127.0.0.1", 0, 2, true, TIMEOUT).unwrap();
    let (client, _) = Store::tcp("127.0.0.1", port, 2, false, TIMEOUT).unwrap();
    server.set("config", b"abc").unwrap();
    assert_eq!(client.get("config").unwrap(), b"abc");
    assert_eq!(client.add("joined", 1).unwrap(), 1);
    assert_eq!(server.add("joined", 1).unwrap(), 2);
    assert!(client.check(&["config"]).unwrap());
    assert!(!client.check(&["missing"]).unwrap());
    let prefixed = client.prefixed("run").unwrap();
    prefixed.set("k", b"v").unwrap();
    assert_eq!(server.get("run/k").unwrap(), b"v");
}

#[test]
fn missing_key_times_out_with_an_error() {
    let (server, _) = Store::tcp("127.0.0.1", 0, 1, true, Duration::from_millis(300)).unwrap();
    let start = Instant::now();
    let err = server.get("never-set").unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(10), "{err}");
    assert!(err.contains("store get"), "{err}");
}

#[test]
fn unreachable_store_is_an_error_not_a_hang() {
    // Nothing listens on 127.0.0.2 (loopback, never leaves the machine).
    let start = Instant::now();
    let err = Store::tcp("127.0.0.2", 29999, 2, false, Duration::from_secs(2)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(30), "{err}");
    assert!(err.to_string().contains("TCPStore"), "{err}");
}

#[test]
fn a_missing_peer_fails_group_creation_within_the_timeout() {
    let (server, _) = Store::tcp("127.0.0.1", 0, 2, true, Duration::from_secs(2)).unwrap();
    let store = server.prefixed("default_pg").unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let result = ProcessGroup::gloo(&store, 0, 2, "127.0.0.1", Duration::from_secs(2), 1);
        let _ = tx.send((result.map(|_| ()), start.elapsed()));
    });
    let (result, elapsed) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("group creation hung");
    assert!(result.is_err());
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[test]
fn a_rank_outside_the_world_is_refused() {
    let (server, _) = Store::tcp("127.0.0.1", 0, 2, true, TIMEOUT).unwrap();
    let err = ProcessGroup::gloo(&server, 2, 2, "127.0.0.1", TIMEOUT, 1).unwrap_err();
    assert!(err.to_string().contains("rank 2"), "{err}");
}
