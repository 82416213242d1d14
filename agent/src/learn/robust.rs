//! Robust statistics: quantiles, the median and the median absolute
//! deviation (MAD). No mean ± k·σ anywhere: one huge value moves them
//! hardly at all.
//!
//! Pure functions over `f64` slices; NaN values are ignored.

/// The scale that makes the MAD estimate the standard deviation of normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The values sorted, NaN removed.
pub fn sorted(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The `q` quantile (0..=1) of `sorted` values, by linear interpolation
/// between the closest ranks (the "type 7" definition of R and NumPy);
/// `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // `pos` is in 0..=last, so its floor fits usize.
    let lower = pos.floor() as usize;
    let upper = (lower + 1).min(last);
    let frac = pos - lower as f64;
    Some(sorted[lower] + (sorted[upper] - sorted[lower]) * frac)
}

/// The median of `sorted` values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    quantile(sorted, 0.5)
}

/// The median and the median absolute deviation of `values`.
pub fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    let s = sorted(values.iter().copied());
    let m = median(&s)?;
    let deviations = sorted(s.iter().map(|x| (x - m).abs()));
    Some((m, median(&deviations)?))
}

/// [`median_mad`] without allocating: `scratch` is reused between calls
/// (for many windows of one history). The median of an even count is the
/// mean of the two middle values, as in [`median`].
pub fn median_mad_with(values: &[f64], scratch: &mut Vec<f64>) -> Option<(f64, f64)> {
    scratch.clear();
    scratch.extend(values.iter().copied().filter(|x| !x.is_nan()));
    let m = select_median(scratch)?;
    for x in scratch.iter_mut() {
        *x = (*x - m).abs();
    }
    Some((m, select_median(scratch)?))
}

/// The median of `values`, reordering them (quickselect, no full sort).
fn select_median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (_, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = values[..n / 2]
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    Some((lower + upper) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let s = sorted([4.0, 1.0, 3.0, 2.0, f64::NAN]);
        assert_eq!(s, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(median(&s), Some(2.5));
        assert_eq!(quantile(&s, 0.0), Some(1.0));
        assert_eq!(quantile(&s, 1.0), Some(4.0));
        assert!((quantile(&s, 0.95).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn one_huge_value_barely_moves_median_and_mad() {
        let values = [10.0, 11.0, 9.0, 10.0, 10.5, 1000.0];
        let (m, mad) = median_mad(&values).unwrap();
        assert_eq!(m, 10.25);
        assert!(mad < 1.0, "{mad}");
        // The allocation-free form agrees, for odd and even counts.
        let mut scratch = Vec::new();
        for n in 1..=values.len() {
            assert_eq!(
                median_mad_with(&values[..n], &mut scratch),
                median_mad(&values[..n]),
                "{n}"
            );
        }
    }
}
