//! Number formats of Python's f-strings, for statistics printed as sentence-transformers
//! prints them.

/// `f"{x:.{decimals}f}"`: `nan`, `inf` and `-inf` spelled as Python spells them.
pub(crate) fn fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else {
        // Rust rounds the exact binary value half to even, as Python does.
        format!("{x:.decimals$}")
    }
}

/// `f"{n:,}"`: thousands separated by commas.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `f"{x:.2%}"`: times 100 in float64, two decimals, a percent sign.
pub(crate) fn percent(x: f64) -> String {
    format!("{}%", fixed(x * 100.0, 2))
}

/// `repr(x)` of a Python float: the shortest digits that read back to `x`, positional for
/// decimal exponents -4..16 (with `.0` when integral), scientific (`1e-05`, `1.5e+16`) outside.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{exp_sign}{:02}", exp.abs());
    }
    // the decimal point sits after `point` digits
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_as_python() {
        // expected strings from CPython 3.11: repr(x)
        for (x, want) in [
            (0.05, "0.05"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (123.0, "123.0"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.25e22, "1.25e+22"),
            (-0.3, "-0.3"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (12.5, "12.5"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn fixed_thousands_and_percent_as_python() {
        // f"{x:.4f}", f"{n:,}", f"{r:.2%}" in CPython 3.11
        assert_eq!(fixed(0.03125, 4), "0.0312");
        assert_eq!(fixed(f64::NAN, 4), "nan");
        assert_eq!(fixed(f64::INFINITY, 4), "inf");
        assert_eq!(fixed(f64::NEG_INFINITY, 4), "-inf");
        assert_eq!(fixed(-0.0, 4), "-0.0000");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(487865), "487,865");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(percent(0.0836), "8.36%");
        assert_eq!(percent(1.0), "100.00%");
        assert_eq!(percent(0.00015), "0.01%");
    }
}
