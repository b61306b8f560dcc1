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
    /// An evaluator input holds no rows.
    #[error("{input} is empty")]
    EmptyInput { input: &'static str },

    /// An input of an evaluator does not have one row per row of another input.
    #[error("{input} has {rows} rows but {reference} has {expected}")]
    InputRows {
        input: &'static str,
        rows: usize,
        reference: &'static str,
        expected: usize,
    },

    /// Two embedding inputs of an evaluator have different dimensions.
    #[error("{input} has dim {dim} but {reference} has dim {expected}")]
    InputDim {
        input: &'static str,
        dim: usize,
        reference: &'static str,
        expected: usize,
    },

    /// A binary label other than 0 or 1.
    #[error("labels has {label} at row {row}, expected 0 or 1")]
    InvalidLabel { row: usize, label: i64 },

    /// A relevant document index that is not a row of the corpus.
    #[error(
        "relevant_docs of query {query} names corpus row {doc}, but the corpus has {corpus} rows"
    )]
    RelevantDocOutOfRange {
        query: usize,
        doc: usize,
        corpus: usize,
    },

    /// No query has a relevant document, so there is nothing to evaluate.
    #[error("no query has a relevant document (all {queries} relevant_docs lists are empty)")]
    NoRelevantDocs { queries: usize },

    /// A gold duplicate pair names a sentence that does not exist.
    #[error("duplicates row {row} names sentence {index}, but there are {sentences} sentences")]
    DuplicateOutOfRange {
        row: usize,
        index: usize,
        sentences: usize,
    },

    /// A gold duplicate pair pairs a sentence with itself (it can never be mined).
    #[error("duplicates row {row} pairs sentence {index} with itself")]
    SelfDuplicate { row: usize, index: usize },

    /// A list of `k` values in an evaluator config is empty.
    #[error("config key {key} is empty, it needs at least one k")]
    EmptyKList { key: &'static str },

    /// A list of `k` values in an evaluator config names one `k` twice.
    #[error("config key {key} lists k = {k} twice")]
    RepeatedK { key: &'static str, k: usize },

    /// A count in an evaluator config (a `k`, a chunk size, …) is zero.
    #[error("config key {key} must be positive, got 0")]
    ZeroConfigValue { key: &'static str },

    /// An evaluator config lists no similarity function.
    #[error("config key {key} lists no similarity function")]
    NoSimilarityFunctions { key: &'static str },

    /// An evaluator config lists a similarity function twice.
    #[error("config key {key} lists {function} twice")]
    DuplicateSimilarityFunction {
        key: &'static str,
        function: crate::similarity::SimilarityFunction,
    },

    /// The main similarity function of a config is not among those it evaluates.
    #[error("config key {key} is {function}, which is not listed in {list_key}")]
    MainFunctionNotListed {
        key: &'static str,
        function: crate::similarity::SimilarityFunction,
        list_key: &'static str,
    },

    /// A non-finite number in an evaluator config.
    #[error("config key {key} must be finite, got {value}")]
    NonFiniteConfigValue { key: &'static str, value: f64 },

    /// A precision name that sentence-transformers does not know.
    #[error("unknown precision {name:?}, expected one of float32, int8, uint8, binary, ubinary")]
    UnknownPrecision { name: String },

    /// Quantization ranges computed from fewer than 2 embeddings (sentence-transformers
    /// refuses a single embedding).
    #[error(
        "quantization ranges need at least 2 embeddings, got {rows}: compute ranges from a \
         representative set of embeddings and pass them instead"
    )]
    TooFewCalibrationRows { rows: usize },

    /// The minima and maxima of quantization ranges differ in length.
    #[error("quantization ranges differ in length: min has {min} values, max has {max}")]
    RangesLength { min: usize, max: usize },

    /// A NaN or infinite bound of a quantization range.
    #[error("quantization range {bound} of dimension {dim} is not finite: {value}")]
    NonFiniteRange {
        bound: &'static str,
        dim: usize,
        value: f32,
    },

    /// A quantization range whose minimum exceeds its maximum.
    #[error("quantization range of dimension {dim} has min {min} > max {max}")]
    InvertedRange { dim: usize, min: f32, max: f32 },

    /// A quantization range too wide for `max - min` to be finite in `f32`.
    #[error("quantization range of dimension {dim} spans {min} to {max}, wider than f32 can hold")]
    RangeOverflow { dim: usize, min: f32, max: f32 },

    /// Quantization ranges of another width than the embeddings.
    #[error("quantization ranges have dim {ranges} but the embeddings have dim {embeddings}")]
    RangesDim { ranges: usize, embeddings: usize },

    /// Model scores of another length than the pairs they score need.
    #[error(
        "scores has {len} values but {pairs} pairs with {per_pair} score(s) each need {expected}"
    )]
    ScoreCount {
        len: usize,
        pairs: usize,
        per_pair: usize,
        /// `pairs * per_pair`, computed in `u128` so that it cannot overflow.
        expected: u128,
    },

    /// A class label outside `0..num_labels`.
    #[error("labels has {label} at row {row}, expected a class in 0..{num_labels}")]
    LabelOutOfRange {
        row: usize,
        label: i64,
        num_labels: usize,
    },

    /// A reranking sample with neither positives nor other documents: nothing to rank.
    #[error(
        "reranking sample {sample} (query {query:?}) has no documents: \
         its positive and {list} lists are both empty"
    )]
    NoCandidates {
        sample: usize,
        query: String,
        /// `negative` or `documents`, whichever the sample has.
        list: &'static str,
    },

    /// A first-stage weight of score fusion that is negative or not finite.
    #[error("the first-stage weight must be finite and at least 0, got {weight}")]
    FusionWeight { weight: f64 },

    /// Score fusion of lists of different lengths.
    #[error("score fusion got {reranker} reranker scores but {first_stage} first-stage scores")]
    FusionLengths { reranker: usize, first_stage: usize },

    /// A reranking sample's first-stage `scores` that do not fit its `documents`.
    #[error("reranking sample for query {query:?}: {reason}")]
    SampleScores { query: String, reason: String },

    /// Score fusion of a sample without first-stage scores for every ranked document.
    #[error(
        "reranking sample {sample} (query {query:?}) cannot be fused with its first stage: {reason}"
    )]
    NoFirstStageScores {
        sample: usize,
        query: String,
        reason: &'static str,
    },

    /// A reranking sample with both or neither of `negative` and `documents`.
    #[error("reranking sample for query {query:?} needs exactly one of negative and documents, got {got}")]
    SampleCandidates { query: String, got: &'static str },

    /// Dequantization of embeddings that are not int8 or uint8.
    #[error("dequantization needs int8 or uint8 embeddings, got {precision}")]
    NotScalarQuantized {
        precision: crate::quantize::Precision,
    },
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
