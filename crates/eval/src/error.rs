//! Errors of the `eval` crate.

/// Everything that can go wrong while evaluating embeddings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flat embedding buffer does not hold `rows * dim` values.
    #[error("embedding buffer has {len} values but rows * dim = {rows} * {dim} = {expected}")]
    BufferShape {
        len: usize,
        rows: usize,
        dim: usize,
        /// `rows * dim`, computed in `u128` so that it cannot overflow.
        expected: u128,
    },

    /// An embedding matrix was given a zero dimension.
    #[error("embedding dim must be positive, got 0 (rows = {rows})")]
    ZeroDim { rows: usize },

    /// The two embedding sets and the gold scores differ in length.
    #[error(
        "sts inputs differ in length: embeddings1 has {embeddings1} rows, \
         embeddings2 has {embeddings2} rows, scores has {scores} values"
    )]
    PairCount {
        embeddings1: usize,
        embeddings2: usize,
        scores: usize,
    },

    /// The two embedding sets have different dimensions.
    #[error("embedding dims differ: embeddings1 has dim {embeddings1}, embeddings2 has dim {embeddings2}")]
    DimMismatch {
        embeddings1: usize,
        embeddings2: usize,
    },

    /// The two inputs of a correlation differ in length.
    #[error("correlation inputs differ in length: x has {x} values, y has {y} values")]
    LengthMismatch { x: usize, y: usize },

    /// Two embedding sets that must be paired row by row differ in rows.
    #[error("embeddings differ in rows: embeddings1 has {embeddings1} rows, embeddings2 has {embeddings2} rows")]
    RowMismatch {
        embeddings1: usize,
        embeddings2: usize,
    },

    /// Fewer values than a statistic needs.
    #[error("{statistic} needs at least 2 values, got {n}")]
    TooFew { statistic: &'static str, n: usize },

    /// Fewer pairs than an STS evaluation needs.
    #[error("sts evaluation needs at least 2 pairs, got {n}")]
    TooFewPairs { n: usize },

    /// A NaN or infinite value where only finite values make sense.
    #[error("{input} has a non-finite value {value} at row {row}")]
    NonFinite {
        input: &'static str,
        row: usize,
        value: f64,
    },

    /// A correlation of an input with zero variance.
    #[error("{statistic} is undefined for constant input: {input} has zero variance (all {n} values equal {value})")]
    ConstantInput {
        statistic: &'static str,
        input: &'static str,
        n: usize,
        value: f64,
    },

    /// The correlation overflowed `f64` (inputs too large in magnitude).
    #[error("{statistic} is not finite ({r}): {x} and {y} are too large in magnitude")]
    Overflow {
        statistic: &'static str,
        r: f64,
        x: &'static str,
        y: &'static str,
    },

    /// The maximum used to normalise gold scores is not a positive finite number.
    #[error("max score must be positive and finite, got {max}")]
    InvalidMaxScore { max: f64 },

    /// A correlation of one STS metric failed.
    #[error("cannot compute {metric}")]
    Metric {
        metric: &'static str,
        #[source]
        source: Box<Error>,
    },
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
