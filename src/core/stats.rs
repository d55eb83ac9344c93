//! The order statistics every stage uses, in one place: linear
//! interpolated quantiles (numpy's default), nearest-rank percentiles and
//! the median.

/// Quantile `q` of values sorted ascending, interpolated linearly between
/// neighbours (numpy's default); 0 for none.
#[must_use]
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let f = position - below as f64;
            sorted[below] * (1.0 - f) + sorted[above] * f
        }
    }
}

/// Nearest-rank percentile `q` of `xs` (reorders them in place, in linear
/// time): the smallest value with at least `q` of them at or below it, so
/// that with few values a high percentile is the highest, never a value
/// between two; `None` for none. What an operator reads as "the p99".
pub fn nearest_rank(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    let (_, &mut value, _) = xs.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some(value)
}

/// Median of `xs` (reorders them in place, in linear time: no full sort);
/// the mean of the two middle values for an even count; 0 for none.
pub fn median(xs: &mut [f64]) -> f64 {
    let n = xs.len();
    if n == 0 {
        return 0.0;
    }
    let (below, &mut upper, _) = xs.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    f64::midpoint(lower, upper)
}

/// Robust standard deviation: 1.4826 × the median absolute deviation from
/// the median (the standard deviation of Gaussian data, unmoved by a few
/// outliers); 0 for none.
#[must_use]
pub fn robust_sd(xs: &[f64]) -> f64 {
    robust_sd_in_place(&mut xs.to_vec())
}

/// [`robust_sd`] of values it may reorder and overwrite (no copy: the
/// event scan measures thousands of these per workload).
pub fn robust_sd_in_place(xs: &mut [f64]) -> f64 {
    let centre = median(xs);
    for x in xs.iter_mut() {
        *x = (*x - centre).abs();
    }
    1.4826 * median(xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        assert_eq!(quantile(&[0.0, 10.0], 0.25), 2.5);
        assert!((quantile(&[0.0, 10.0], 0.95) - 9.5).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn nearest_rank_is_a_value_of_the_data_and_the_highest_when_few() {
        let mut xs = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(nearest_rank(&mut xs, 0.99), Some(5.0));
        assert_eq!(nearest_rank(&mut xs, 0.5), Some(3.0));
        assert_eq!(nearest_rank(&mut xs, 0.0), Some(1.0));
        let mut hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(nearest_rank(&mut hundred, 0.95), Some(95.0));
        assert_eq!(nearest_rank(&mut [], 0.5), None);
    }

    #[test]
    fn robust_sd_ignores_an_outlier() {
        // Deviations from the median 3: 2, 1, 0, 1, 97 → their median 1.
        assert!((robust_sd(&[1.0, 2.0, 3.0, 4.0, 100.0]) - 1.4826).abs() < 1e-12);
        assert_eq!(robust_sd(&[]), 0.0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
