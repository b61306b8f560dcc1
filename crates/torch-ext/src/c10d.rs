//! c10d, PyTorch's distributed engine (the same code `torch.distributed` runs), bound through
//! the shim in `c10d.cpp`:
//!
//! - [`Store`]: the key-value rendezvous every rank meets at — a TCPStore (rank 0 serves, the
//!   others connect) or a FileStore (a file on a shared file system) — with [`Store::prefixed`]
//!   views (PrefixStore: keys become `<prefix>/<key>`).
//! - [`ProcessGroup`]: ProcessGroupGloo over a store: all-reduce, broadcast, all-gather,
//!   reduce-scatter and barrier on CPU (or CUDA) tensors, each bounded by the group's timeout,
//!   so a dead or missing peer becomes an error instead of a hang.
//! - [`ProcessGroup::all_gather_rows`]: an all-gather that autograd differentiates, as
//!   `torch.distributed.nn.all_gather`: backward reduce-scatters (sums) the gradient, so every
//!   rank's rows get the gradient of every rank's loss.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;
use std::time::Duration;

use tch::Tensor;
use torch_sys::C_tensor;

use crate::{check, handle, output, Error, Result};

extern "C" {
    fn torch_ext_store_tcp(
        host: *const c_char,
        port: *mut c_int,
        world_size: c_int,
        is_server: bool,
        timeout_ms: i64,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn torch_ext_store_file(
        path: *const c_char,
        world_size: c_int,
        timeout_ms: i64,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn torch_ext_store_prefix(
        store: *mut c_void,
        prefix: *const c_char,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn torch_ext_store_free(store: *mut c_void);
    fn torch_ext_store_set(
        store: *mut c_void,
        key: *const c_char,
        data: *const u8,
        len: usize,
    ) -> *mut c_char;
    fn torch_ext_store_get(
        store: *mut c_void,
        key: *const c_char,
        data: *mut *mut u8,
        len: *mut usize,
    ) -> *mut c_char;
    fn torch_ext_free_bytes(data: *mut u8);
    fn torch_ext_store_add(
        store: *mut c_void,
        key: *const c_char,
        delta: i64,
        out: *mut i64,
    ) -> *mut c_char;
    fn torch_ext_store_check(
        store: *mut c_void,
        keys: *const *const c_char,
        n: usize,
        out: *mut bool,
    ) -> *mut c_char;
    fn torch_ext_group_gloo(
        store: *mut c_void,
        rank: c_int,
        size: c_int,
        timeout_ms: i64,
        hostname: *const c_char,
        threads: c_int,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn torch_ext_group_free(group: *mut c_void);
    #[cfg(feature = "nccl")]
    fn torch_ext_group_nccl(
        store: *mut c_void,
        rank: c_int,
        size: c_int,
        timeout_ms: i64,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn torch_ext_group_allreduce(
        group: *mut c_void,
        tensors: *const *mut C_tensor,
        n: usize,
        op: c_int,
    ) -> *mut c_char;
    fn torch_ext_group_broadcast(
        group: *mut c_void,
        tensors: *const *mut C_tensor,
        n: usize,
        root: c_int,
    ) -> *mut c_char;
    fn torch_ext_group_allgather(
        group: *mut c_void,
        input: *mut C_tensor,
        outputs: *const *mut C_tensor,
        n: usize,
    ) -> *mut c_char;
    fn torch_ext_group_reduce_scatter(
        group: *mut c_void,
        output: *mut C_tensor,
        inputs: *const *mut C_tensor,
        n: usize,
        op: c_int,
    ) -> *mut c_char;
    fn torch_ext_group_barrier(group: *mut c_void) -> *mut c_char;
    fn torch_ext_group_all_gather_autograd(
        group: *mut c_void,
        input: *mut C_tensor,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Whether this build has ProcessGroupNCCL (the `nccl` feature).
pub const HAS_NCCL: bool = cfg!(feature = "nccl");

fn c_string(what: &str, text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::Invalid(format!("{what} {text:?} contains a NUL byte")))
}

fn millis(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

fn c_int_of(what: &str, value: usize) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| Error::Invalid(format!("{what} {value} is too large")))
}

/// A c10d key-value store.
#[derive(Debug)]
pub struct Store {
    ptr: *mut c_void,
}

// SAFETY: c10d's stores serialise their own operations (TCPStore's client holds a lock per
// request, FileStore locks its file), and the handle is only freed by Drop.
unsafe impl Send for Store {}
// SAFETY: as above; every method takes `&self` and the C++ side is thread-safe.
unsafe impl Sync for Store {}

impl Store {
    /// A TCPStore. With `is_server` this process listens on `port` (0: any free port, see
    /// [`Store::tcp_port`] for the one taken); otherwise it connects to `host:port`, retrying
    /// until `timeout`. Every later wait on a key is bounded by `timeout` too.
    pub fn tcp(
        host: &str,
        port: u16,
        world_size: usize,
        is_server: bool,
        timeout: Duration,
    ) -> Result<(Self, u16)> {
        let c_host = c_string("host", host)?;
        let mut c_port = c_int::from(port);
        let mut ptr = std::ptr::null_mut();
        // SAFETY: the strings and out-pointers are valid for the call; on success `ptr` is a
        // fresh StoreHandle this value owns.
        let message = unsafe {
            torch_ext_store_tcp(
                c_host.as_ptr(),
                &mut c_port,
                c_int_of("world size", world_size)?,
                is_server,
                millis(timeout),
                &mut ptr,
            )
        };
        check("TCPStore", message)?;
        let port = u16::try_from(c_port).unwrap_or(port);
        Ok((Store { ptr }, port))
    }

    /// A FileStore at `path` shared by `world_size` processes.
    pub fn file(path: &Path, world_size: usize, timeout: Duration) -> Result<Self> {
        let c_path = c_string("path", &path.to_string_lossy())?;
        let mut ptr = std::ptr::null_mut();
        // SAFETY: as in `tcp`.
        let message = unsafe {
            torch_ext_store_file(
                c_path.as_ptr(),
                c_int_of("world size", world_size)?,
                millis(timeout),
                &mut ptr,
            )
        };
        check("FileStore", message)?;
        Ok(Store { ptr })
    }

    /// A view whose keys start with `prefix`, over the same store.
    pub fn prefixed(&self, prefix: &str) -> Result<Self> {
        let c_prefix = c_string("prefix", prefix)?;
        let mut ptr = std::ptr::null_mut();
        // SAFETY: `self.ptr` is a live StoreHandle; the new handle shares its store.
        let message = unsafe { torch_ext_store_prefix(self.ptr, c_prefix.as_ptr(), &mut ptr) };
        check("PrefixStore", message)?;
        Ok(Store { ptr })
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        let c_key = c_string("key", key)?;
        // SAFETY: key and value outlive the call, which copies them.
        let message =
            unsafe { torch_ext_store_set(self.ptr, c_key.as_ptr(), value.as_ptr(), value.len()) };
        check("store set", message)
    }

    /// The value of `key`, waiting for another rank to set it (up to the store's timeout).
    pub fn get(&self, key: &str) -> Result<Vec<u8>> {
        let c_key = c_string("key", key)?;
        let mut data = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: on success `data` is a malloc'd buffer of `len` bytes, copied and freed here.
        let message = unsafe { torch_ext_store_get(self.ptr, c_key.as_ptr(), &mut data, &mut len) };
        check("store get", message)?;
        if data.is_null() {
            return Err(Error::Invalid(format!(
                "store get {key:?} returned no buffer"
            )));
        }
        // SAFETY: see above.
        let value = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
        // SAFETY: the buffer came from malloc in the shim.
        unsafe { torch_ext_free_bytes(data) };
        Ok(value)
    }

    /// Adds `delta` to the integer at `key` (0 if unset) and returns the new value.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64> {
        let c_key = c_string("key", key)?;
        let mut out = 0i64;
        // SAFETY: valid pointers for the call.
        let message = unsafe { torch_ext_store_add(self.ptr, c_key.as_ptr(), delta, &mut out) };
        check("store add", message)?;
        Ok(out)
    }

    /// Whether every key is set, without waiting.
    pub fn check(&self, keys: &[&str]) -> Result<bool> {
        let owned = keys
            .iter()
            .map(|k| c_string("key", k))
            .collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|k| k.as_ptr()).collect();
        let mut out = false;
        // SAFETY: `owned` keeps the strings alive for the call.
        let message =
            unsafe { torch_ext_store_check(self.ptr, ptrs.as_ptr(), ptrs.len(), &mut out) };
        check("store check", message)?;
        Ok(out)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the shim and is freed exactly once.
        unsafe { torch_ext_store_free(self.ptr) }
    }
}

/// How a collective combines the ranks' values (Gloo has no average: sum and divide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
}

impl ReduceOp {
    fn code(self) -> c_int {
        match self {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
            ReduceOp::Min => 2,
        }
    }
}

/// A Gloo process group: `size` ranks that run the same collectives in the same order.
#[derive(Debug)]
pub struct ProcessGroup {
    ptr: *mut c_void,
    rank: usize,
    size: usize,
}

// SAFETY: the group may move to another thread; it is not shared (no Sync), as collectives
// must be issued in one order.
unsafe impl Send for ProcessGroup {}

fn handles(tensors: &[&Tensor]) -> Vec<*mut C_tensor> {
    tensors.iter().map(|t| handle(t)).collect()
}

impl ProcessGroup {
    /// Joins the Gloo group over `store` as `rank` of `size`. `hostname` names the address
    /// peers reach this process at (its interface is used for Gloo's connections); `timeout`
    /// bounds connecting and every collective.
    pub fn gloo(
        store: &Store,
        rank: usize,
        size: usize,
        hostname: &str,
        timeout: Duration,
        threads: usize,
    ) -> Result<Self> {
        if rank >= size {
            return Err(Error::Invalid(format!(
                "rank {rank} is not below the world size {size}"
            )));
        }
        let c_host = c_string("hostname", hostname)?;
        let mut ptr = std::ptr::null_mut();
        // SAFETY: the store handle is live (the group keeps its own reference to the store).
        let message = unsafe {
            torch_ext_group_gloo(
                store.ptr,
                c_int_of("rank", rank)?,
                c_int_of("world size", size)?,
                millis(timeout),
                c_host.as_ptr(),
                c_int_of("threads", threads.max(1))?,
                &mut ptr,
            )
        };
        check("ProcessGroupGloo", message)?;
        Ok(ProcessGroup { ptr, rank, size })
    }

    /// Joins a NCCL group over `store` as `rank` of `size` (CUDA tensors only; the process's
    /// current CUDA device is its GPU). Needs the `nccl` feature, built against a CUDA libtorch.
    #[cfg(feature = "nccl")]
    pub fn nccl(store: &Store, rank: usize, size: usize, timeout: Duration) -> Result<Self> {
        if rank >= size {
            return Err(Error::Invalid(format!(
                "rank {rank} is not below the world size {size}"
            )));
        }
        let mut ptr = std::ptr::null_mut();
        // SAFETY: as in `gloo`.
        let message = unsafe {
            torch_ext_group_nccl(
                store.ptr,
                c_int_of("rank", rank)?,
                c_int_of("world size", size)?,
                millis(timeout),
                &mut ptr,
            )
        };
        check("ProcessGroupNCCL", message)?;
        Ok(ProcessGroup { ptr, rank, size })
    }

    /// Without the `nccl` feature: an error saying how to build with it.
    #[cfg(not(feature = "nccl"))]
    pub fn nccl(_store: &Store, _rank: usize, _size: usize, _timeout: Duration) -> Result<Self> {
        Err(Error::Invalid(
            "this build has no NCCL: build with `--features torch-ext/nccl` on a machine set \
             up with `cargo xtask setup --cuda`"
                .into(),
        ))
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Reduces each tensor over the ranks, in place. Tensors must be contiguous and, as Gloo
    /// reduces them together, of one dtype and size.
    pub fn all_reduce(&self, tensors: &[&Tensor], op: ReduceOp) -> Result<()> {
        let hs = handles(tensors);
        // SAFETY: the tensors outlive the (blocking) call.
        let message =
            unsafe { torch_ext_group_allreduce(self.ptr, hs.as_ptr(), hs.len(), op.code()) };
        check("all-reduce", message)
    }

    /// Overwrites each tensor with `root`'s.
    pub fn broadcast(&self, tensors: &[&Tensor], root: usize) -> Result<()> {
        let hs = handles(tensors);
        let root = c_int_of("root rank", root)?;
        // SAFETY: as in `all_reduce`.
        let message = unsafe { torch_ext_group_broadcast(self.ptr, hs.as_ptr(), hs.len(), root) };
        check("broadcast", message)
    }

    /// Every rank's `input`, in rank order (all ranks' inputs must have one shape).
    pub fn all_gather(&self, input: &Tensor) -> Result<Vec<Tensor>> {
        let input = input.f_contiguous()?;
        let outputs = (0..self.size)
            .map(|_| input.f_empty_like())
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Tensor> = outputs.iter().collect();
        let hs = handles(&refs);
        // SAFETY: as in `all_reduce`.
        let message =
            unsafe { torch_ext_group_allgather(self.ptr, handle(&input), hs.as_ptr(), hs.len()) };
        check("all-gather", message)?;
        Ok(outputs)
    }

    /// This rank's share of the reduction: `inputs[r]` of every rank reduced into rank r's
    /// result (one input per rank, all of one shape).
    pub fn reduce_scatter(&self, inputs: &[&Tensor], op: ReduceOp) -> Result<Tensor> {
        if inputs.len() != self.size {
            return Err(Error::Invalid(format!(
                "reduce-scatter takes one input per rank ({}), got {}",
                self.size,
                inputs.len()
            )));
        }
        let out = inputs[self.rank].f_empty_like()?;
        let contiguous = inputs
            .iter()
            .map(|t| t.f_contiguous())
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Tensor> = contiguous.iter().collect();
        let hs = handles(&refs);
        // SAFETY: as in `all_reduce`.
        let message = unsafe {
            torch_ext_group_reduce_scatter(self.ptr, handle(&out), hs.as_ptr(), hs.len(), op.code())
        };
        check("reduce-scatter", message)?;
        Ok(out)
    }

    /// Returns once every rank has reached it (or errors at the timeout).
    pub fn barrier(&self) -> Result<()> {
        // SAFETY: the group handle is live.
        let message = unsafe { torch_ext_group_barrier(self.ptr) };
        check("barrier", message)
    }

    /// The rows (dim 0) of every rank's `input`, concatenated in rank order; ranks may hold
    /// different row counts. Differentiable: backward gives this rank's rows the sum over
    /// ranks of the gradients that reach them (a reduce-scatter), so a loss that scores local
    /// rows against all ranks' rows trains exactly as one process over the global batch. The
    /// gradient graph keeps its own reference to the group.
    pub fn all_gather_rows(&self, input: &Tensor) -> Result<Tensor> {
        let mut out = std::ptr::null_mut();
        // SAFETY: input and group are live; on success `out` is a tensor we own.
        let message =
            unsafe { torch_ext_group_all_gather_autograd(self.ptr, handle(input), &mut out) };
        output("differentiable all-gather", message, out)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the shim and is freed exactly once (autograd nodes hold
        // their own reference to the backend).
        unsafe { torch_ext_group_free(self.ptr) }
    }
}
