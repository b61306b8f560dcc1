//! Word-deletion noise for TSDAE (sentence-transformers' `DenoisingAutoEncoderDataset.delete`):
//! each word is kept with probability `1 − ratio`, and at least one word always stays. What a
//! word is: [`split_words`]; how rows draw their randomness: [`row_rng`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Separates the noise's generator keys from other uses of the training seed (the samplers
/// key ChaCha8 with the seed itself).
const NOISE_SALT: u64 = 0x7d5a_0e1c_4b3f_9a26;

/// The generator of row `row`'s noise: ChaCha8 keyed by a splitmix64 mix of `seed`, on
/// stream `row`.
///
/// Counter-based: a row's noise depends only on (seed, row index), not on batch order or on
/// the rows before it, so reloading the data (a resumed run) redraws exactly the same noisy
/// texts.
pub fn row_rng(seed: u64, row: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed ^ NOISE_SALT));
    rng.set_stream(row);
    rng
}

/// The words of `text`, in order.
///
/// sentence-transformers splits with NLTK's `word_tokenize` (punctuation split off words) and
/// rejoins with the Treebank detokenizer. Here a word is
/// - a maximal run of letters, digits and combining marks ([`char::is_alphanumeric`], the
///   combining diacritical blocks), which may hold an apostrophe (`'`, `’`) or hyphen (`-`)
///   between two such characters (`don't`, `state-of-the-art`) and a `.` or `,` between two
///   digits (`3.5`, `1,000`); or
/// - any other non-whitespace character on its own (`,`, `(`, `"`, an emoji).
///
/// Unlike NLTK, `don't` stays one word (NLTK: `do`, `n't`).
pub fn split_words(text: &str) -> Vec<&str> {
    words(text).iter().map(|w| &text[w.start..w.end]).collect()
}

/// `text` with each word ([`split_words`]) deleted with probability `ratio`, as TSDAE's
/// `delete(text, del_ratio)`: one uniform draw per word (kept when the draw is ≥ `ratio`), and
/// when no word is kept one word chosen uniformly is. A text without words is returned
/// unchanged.
///
/// Kept words are rejoined by their original spacing instead of the Treebank rules: a single
/// space between two kept words when the original had whitespace anywhere between them, or
/// when a deleted word sat between them and gluing them would make them one word (the seam
/// joins two characters that are each a letter, digit, mark or one of `'’-.,`); no space
/// otherwise. So [`split_words`] of the output gives exactly the kept words, a subsequence of
/// the input's words; with ratio 0 the output is the input with its whitespace runs collapsed
/// to one space and trimmed.
///
/// `ratio` is meant to lie in `[0, 1)` (callers check it): at or above 1 every text keeps a
/// single word; at or below 0 every word is kept.
pub fn delete_words<R: Rng + ?Sized>(text: &str, ratio: f64, rng: &mut R) -> String {
    let words = words(text);
    if words.is_empty() {
        return text.to_owned();
    }
    let mut keep: Vec<bool> = words.iter().map(|_| rng.random::<f64>() >= ratio).collect();
    if !keep.contains(&true) {
        let chosen = rng.random_range(0..words.len());
        if let Some(k) = keep.get_mut(chosen) {
            *k = true;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<usize> = None;
    // Whitespace seen since the previous kept word.
    let mut space = false;
    for (i, word) in words.iter().enumerate() {
        space |= word.space_before;
        if !keep[i] {
            continue;
        }
        let piece = &text[word.start..word.end];
        if let Some(p) = previous {
            let deleted_between = p + 1 < i;
            if space || (deleted_between && would_glue(&out, piece)) {
                out.push(' ');
            }
        }
        out.push_str(piece);
        previous = Some(i);
        space = false;
    }
    out
}

/// A word: byte range in the text and whether whitespace precedes it (after the previous word).
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    space_before: bool,
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut space_before = false;
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            space_before = true;
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut last = c;
        if is_word_char(c) {
            while let Some(&(i, next)) = chars.peek() {
                let after = text[i + next.len_utf8()..].chars().next();
                let joins = is_word_char(next)
                    || (after.is_some_and(is_word_char) && joins_letters(next))
                    || (last.is_numeric()
                        && after.is_some_and(char::is_numeric)
                        && joins_digits(next));
                if !joins {
                    break;
                }
                end = i + next.len_utf8();
                last = next;
                chars.next();
            }
        }
        out.push(Word {
            start,
            end,
            space_before,
        });
        space_before = false;
    }
    out
}

/// Letters, digits and combining marks (so decomposed `é` stays one word).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c,
            '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}')
}

/// Characters that join two word characters into one word.
fn joins_letters(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '-')
}

/// Characters that join two digits into one word.
fn joins_digits(c: char) -> bool {
    matches!(c, '.' | ',')
}

/// Whether writing `next` right after `out` could read as one word with what precedes it.
fn would_glue(out: &str, next: &str) -> bool {
    let part_of_word = |c: char| is_word_char(c) || joins_letters(c) || joins_digits(c);
    out.chars().next_back().is_some_and(part_of_word)
        && next.chars().next().is_some_and(part_of_word)
}

/// splitmix64's output function: a well-mixed 64-bit key from any seed.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splits_punctuation_off_and_keeps_inner_joiners() {
        assert_eq!(
            split_words("Hello, world! Don't re-use 3.5 or 1,000 (x/y)..."),
            [
                "Hello", ",", "world", "!", "Don't", "re-use", "3.5", "or", "1,000", "(", "x", "/",
                "y", ")", ".", ".", "."
            ]
        );
        // Joiners at a word's edge, doubled, or between letters and digits of the wrong kind.
        assert_eq!(
            split_words("'quoted' a--b end- v1.2x 3.e"),
            ["'", "quoted", "'", "a", "-", "-", "b", "end", "-", "v1.2x", "3", ".", "e"]
        );
        assert_eq!(
            split_words("cafe\u{301} 東京タワー 😀ok"),
            ["cafe\u{301}", "東京タワー", "😀", "ok"]
        );
        assert!(split_words(" \t\n ").is_empty());
    }

    #[test]
    fn ratio_zero_keeps_the_text_with_normalised_spacing() {
        let mut rng = row_rng(1, 0);
        assert_eq!(
            delete_words("  Hello,   world!\t(It's 3.5 \"x\")  ", 0.0, &mut rng),
            "Hello, world! (It's 3.5 \"x\")"
        );
    }

    #[test]
    fn text_without_words_is_unchanged() {
        let mut rng = row_rng(1, 0);
        assert_eq!(delete_words("", 0.6, &mut rng), "");
        assert_eq!(delete_words(" \t ", 0.6, &mut rng), " \t ");
    }

    #[test]
    fn ratio_one_keeps_exactly_one_word() {
        for row in 0..50 {
            let out = delete_words("a b c d, e.", 1.0, &mut row_rng(7, row));
            assert_eq!(split_words(&out).len(), 1, "{out:?}");
        }
    }

    #[test]
    fn seam_after_a_deleted_word_never_glues_words() {
        // Deleting `/` from `x/y` must not give the new word `xy`; deleting `(` from `'(` keeps
        // `'` its own word. Punctuation glues as in the original.
        let text = "x/y it'(s";
        let mut seen_space = false;
        for row in 0..200 {
            let out = delete_words(text, 0.5, &mut row_rng(3, row));
            let kept = split_words(&out);
            assert!(is_subsequence(&kept, &split_words(text)), "{out:?}");
            seen_space |= out.starts_with("x y");
        }
        assert!(seen_space);
    }

    #[test]
    fn rows_draw_independently_of_each_other() {
        let text = "one two three four five six seven eight nine ten";
        let a = delete_words(text, 0.6, &mut row_rng(42, 5));
        let b = delete_words(text, 0.6, &mut row_rng(42, 5));
        assert_eq!(a, b);
        let rows: Vec<String> = (0..20)
            .map(|r| delete_words(text, 0.6, &mut row_rng(42, r)))
            .collect();
        assert!(rows.iter().any(|r| r != &rows[0]), "{rows:?}");
        let other_seed: Vec<String> = (0..20)
            .map(|r| delete_words(text, 0.6, &mut row_rng(43, r)))
            .collect();
        assert_ne!(rows, other_seed);
    }

    #[test]
    fn keep_rate_is_one_minus_ratio() {
        let text = vec!["w"; 1000].join(" ");
        for ratio in [0.1, 0.6, 0.9] {
            let kept: usize = (0..20)
                .map(|row| split_words(&delete_words(&text, ratio, &mut row_rng(9, row))).len())
                .sum();
            let rate = kept as f64 / 20_000.0;
            // 20,000 Bernoulli draws: standard deviation ≤ 0.0036; allow 4 of them.
            assert!(
                (rate - (1.0 - ratio)).abs() < 0.015,
                "ratio {ratio}: rate {rate}"
            );
        }
    }

    fn is_subsequence(small: &[&str], large: &[&str]) -> bool {
        let mut rest = large.iter();
        small.iter().all(|s| rest.any(|l| l == s))
    }

    proptest! {
        #[test]
        fn output_words_are_a_subsequence_of_the_input_words(
            text in "[a-c1-2 ,.'\u{2019}\\-/()\u{e9}\u{301}\t]{0,40}",
            ratio in 0.0f64..1.0,
            seed in any::<u64>(),
            row in any::<u64>(),
        ) {
            let out = delete_words(&text, ratio, &mut row_rng(seed, row));
            let input = split_words(&text);
            let output = split_words(&out);
            prop_assert!(is_subsequence(&output, &input), "{:?} -> {:?}", input, output);
            if input.is_empty() {
                prop_assert_eq!(&out, &text);
            } else {
                prop_assert!(!output.is_empty());
            }
            prop_assert_eq!(&out, &delete_words(&text, ratio, &mut row_rng(seed, row)));
        }

        #[test]
        fn ratio_zero_keeps_every_word(text in "\\PC{0,60}") {
            let out = delete_words(&text, 0.0, &mut row_rng(0, 0));
            prop_assert_eq!(split_words(&out), split_words(&text));
        }
    }
}
