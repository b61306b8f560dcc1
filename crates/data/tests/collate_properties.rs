//! Invariants of dynamic padding, for any batch of token id lists.

use data::{collate, collate_many, TokenizedText};
use proptest::prelude::*;

fn texts() -> impl Strategy<Value = Vec<TokenizedText>> {
    prop::collection::vec(
        prop::collection::vec(1..30_000i64, 0..40).prop_flat_map(|ids| {
            let n = ids.len();
            (Just(ids), prop::collection::vec(0..2i64, n))
                .prop_map(|(ids, type_ids)| TokenizedText { ids, type_ids })
        }),
        0..12,
    )
}

proptest! {
    #[test]
    fn padding_preserves_every_row(texts in texts(), pad_id in 0..5i64) {
        let refs: Vec<&TokenizedText> = texts.iter().collect();
        let batch = collate(&refs, pad_id);
        let longest = texts.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        prop_assert_eq!(batch.batch, texts.len());
        prop_assert_eq!(batch.seq_len, longest);
        for buffer in [&batch.input_ids, &batch.attention_mask, &batch.token_type_ids] {
            prop_assert_eq!(buffer.len(), texts.len() * longest);
        }
        let lengths: Vec<usize> = texts.iter().map(|t| t.ids.len()).collect();
        prop_assert_eq!(batch.lengths(), lengths);
        for (i, text) in texts.iter().enumerate() {
            let row = i * longest..(i + 1) * longest;
            let n = text.ids.len();
            prop_assert_eq!(&batch.input_ids[row.start..row.start + n], &text.ids[..]);
            prop_assert!(batch.input_ids[row.start + n..row.end].iter().all(|&id| id == pad_id));
            prop_assert_eq!(&batch.token_type_ids[row.start..row.start + n], &text.type_ids[..]);
            let mask = &batch.attention_mask[row];
            prop_assert!(mask[..n].iter().all(|&m| m == 1) && mask[n..].iter().all(|&m| m == 0));
        }
    }

    #[test]
    fn parallel_collation_equals_sequential(texts in texts(), size in 1..5usize) {
        let batches: Vec<Vec<&TokenizedText>> =
            texts.chunks(size).map(|c| c.iter().collect()).collect();
        let parallel = collate_many(&batches, 0);
        let sequential: Vec<_> = batches.iter().map(|b| collate(b, 0)).collect();
        prop_assert_eq!(parallel, sequential);
    }
}
