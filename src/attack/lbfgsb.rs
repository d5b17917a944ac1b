//! L-BFGS-B 3.0 (Byrd, Lu, Nocedal & Zhu 1995; Zhu, Byrd, Lu & Nocedal 1997; Morales &
//! Nocedal 2011) exactly as scipy's `fmin_l_bfgs_b` runs it, driven from outside (ask / tell)
//! so that a whole batch of independent problems can share one batched model call per
//! evaluation.
//!
//! This is a line-by-line port of the Fortran that scipy 1.14.1 ships
//! (`scipy/optimize/lbfgsb_src/lbfgsb.f`, the last release before scipy translated it to C,
//! with LINPACK's `dpofa` and `dtrsl` from `linpack.f`) and of the Python loop around it
//! (`scipy/optimize/_lbfgsb_py.py`): the generalized Cauchy point along the projected
//! gradient (`cauchy`), the subspace minimisation over the free variables with the 2011
//! projection and backtracking (`subsm`), the compact limited-memory matrices (`formk`,
//! `formt`, `bmv`), and Moré & Thuente's line search (`dcsrch`, `dcstep`) with at most
//! `maxls` steps. Each routine keeps the Fortran's names, structure and order of arithmetic;
//! only the printing (`iprint`), the timers and the counters kept for it are left out.
//!
//! The BLAS calls round as in scipy's wheels: `ddot` and `daxpy` are those of the OpenBLAS
//! 0.3.27 that scipy 1.14.1 bundles, as it runs on x86-64 with AVX-512 (its SkylakeX kernels:
//! fused multiply-adds, `ddot` summed in 32 lanes folded in a fixed order). With the
//! reference BLAS's sequential sums instead, the points differ from scipy's in the last bits
//! (1e-11 relative after tens of iterations, 1e-7 on the 784-pixel attack problems) and an
//! ill-conditioned problem drifts onto another path; with these, `tests/lbfgsb.rs` replays 24
//! problems recorded from scipy (the attack's objective on MNIST images among them) and every
//! point the solver asks for is scipy's to the bit. (On CPUs without AVX-512, OpenBLAS sums in
//! another order, so scipy there differs from scipy here in the same last bits.)
//! `f64::mul_add` is exact everywhere, in software where the CPU has no fused multiply-add
//! (wasm32: about 13 µs for a 784-term `ddot`, half a millisecond per iteration of the attack).
//!
//! The Fortran talks to its caller by reverse communication (`task = 'FG'`, `'NEW_X'`,
//! `'CONV…'`, `'ABNO…'`, `'STOP…'`, `'ERROR…'`), which is the ask / tell state machine here:
//! [`BoxLbfgs::point`] is the `x` of a pending `FG`, [`BoxLbfgs::tell`] hands back `f` and
//! `∇f`. What the Python driver adds is reproduced too: `x0` is clipped to the bounds and is the
//! first point evaluated; the objective is memoised on the last evaluated point (scipy's
//! `ScalarFunction`), so a request for an unchanged `x` is answered without an evaluation and
//! not counted in `nfev`; iterations are counted at each `NEW_X`, and the limits on iterations
//! and evaluations are checked only there, so the returned `x` is always an accepted iterate
//! (after an abnormal line search, the one the search started from).
//!
//! Hand-written because no crate fits (crates.io, 2026): `lbfgsb` and `lbfgsb-sys` bind the C
//! and Fortran originals (no wasm32 build without a C or Fortran toolchain for it);
//! `lbfgsb-rs-pure` ports L-BFGS-B-C to Rust but is driven by a closure and restructures the
//! routines (its own notes say its iterates differ); `lbfgs`, `liblbfgs` and `argmin` have
//! L-BFGS without bounds. All of them call the objective themselves, where the attack needs to
//! batch the evaluations of many solvers into one (async, on the web) model call.

#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

/// scipy's defaults for `fmin_l_bfgs_b`.
pub const HISTORY: usize = 10;
pub const FACTR: f64 = 1e7;
pub const PGTOL: f64 = 1e-5;
pub const MAX_ITERATIONS: usize = 15000;
pub const MAX_EVALUATIONS: usize = 15000;
pub const MAX_LINE_SEARCH: usize = 20;

/// One variable's bounds; scipy's `nbd` code is 0 (`Free`), 1 (`Lower`), 2 (`Both`), 3
/// (`Upper`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Free,
    Lower(f64),
    Both(f64, f64),
    Upper(f64),
}

impl Bound {
    /// scipy's reading of a `(lower, upper)` pair: an infinite end is no bound.
    pub fn new(lower: f64, upper: f64) -> Self {
        match (lower.is_infinite(), upper.is_infinite()) {
            (true, true) => Bound::Free,
            (false, true) => Bound::Lower(lower),
            (false, false) => Bound::Both(lower, upper),
            (true, false) => Bound::Upper(upper),
        }
    }

    /// scipy's `nbd` code.
    pub fn nbd(self) -> u8 {
        match self {
            Bound::Free => 0,
            Bound::Lower(_) => 1,
            Bound::Both(..) => 2,
            Bound::Upper(_) => 3,
        }
    }

    /// `(l, u)` as the Fortran stores them (0 where there is no bound).
    fn ends(self) -> (f64, f64) {
        match self {
            Bound::Free => (0.0, 0.0),
            Bound::Lower(l) => (l, 0.0),
            Bound::Both(l, u) => (l, u),
            Bound::Upper(u) => (0.0, u),
        }
    }

    fn clip(self, x: f64) -> f64 {
        // numpy's clip: min(max(x, lower), upper).
        match self {
            Bound::Free => x,
            Bound::Lower(l) => x.max(l),
            Bound::Both(l, u) => x.max(l).min(u),
            Bound::Upper(u) => x.min(u),
        }
    }
}

/// The bounds of all variables.
#[derive(Clone, Debug, PartialEq)]
pub enum Bounds {
    /// The same bound for every variable.
    Uniform(Bound),
    /// One bound per variable (as many as `x0` has).
    PerVariable(Vec<Bound>),
}

/// Solver settings; `Default` gives scipy's (`m = 10`, `factr = 1e7`, `pgtol = 1e-5`,
/// `maxiter = maxfun = 15000`, `maxls = 20`) on an unbounded problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub bounds: Bounds,
    /// Correction pairs kept, scipy's `m` (Foolbox: 15).
    pub history: usize,
    /// Stop when the relative decrease of f is at most `factr · ε_machine`.
    pub factr: f64,
    /// Stop when the largest component of the projected gradient is at most `pgtol`.
    pub pgtol: f64,
    /// scipy's `maxiter` (Foolbox: 150).
    pub max_iterations: usize,
    /// scipy's `maxfun`: stop at an iterate once more evaluations than this were made.
    pub max_evaluations: usize,
    /// scipy's `maxls`: evaluations per line search at most.
    pub max_line_search: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bounds: Bounds::Uniform(Bound::Free),
            history: HISTORY,
            factr: FACTR,
            pgtol: PGTOL,
            max_iterations: MAX_ITERATIONS,
            max_evaluations: MAX_EVALUATIONS,
            max_line_search: MAX_LINE_SEARCH,
        }
    }
}

impl Settings {
    /// scipy's defaults on the box `[lower, upper]ⁿ`.
    pub fn boxed(lower: f64, upper: f64) -> Self {
        Self {
            bounds: Bounds::Uniform(Bound::new(lower, upper)),
            ..Self::default()
        }
    }
}

/// Why the solver stopped: scipy's `task` message (see [`StopReason::message`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL`
    ConvergedPgtol,
    /// `CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH`
    ConvergedFactr,
    /// `ABNORMAL_TERMINATION_IN_LNSRCH`: the line search failed from a steepest-descent
    /// start; the solution is the iterate it started from.
    AbnormalLineSearch,
    /// `STOP: TOTAL NO. of ITERATIONS REACHED LIMIT`
    MaxIterations,
    /// `STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT`
    MaxEvaluations,
    /// The input was rejected; nothing was evaluated.
    Error(InputError),
}

/// Inputs scipy refuses (the Fortran's `errclb` and the Python driver's checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// `ERROR: N .LE. 0`
    NoVariables,
    /// `ERROR: M .LE. 0`
    NoHistory,
    /// `ERROR: FACTR .LT. 0`
    NegativeFactr,
    /// `ERROR: NO FEASIBLE SOLUTION` (a lower bound above its upper bound)
    NoFeasibleSolution,
    /// The Python driver's `length of x0 != length of bounds`.
    BoundsLength,
    /// The Python driver's `maxls must be positive.`
    MaxLineSearch,
}

impl StopReason {
    /// The message scipy reports (`task` / `OptimizeResult.message`).
    pub fn message(self) -> &'static str {
        match self {
            StopReason::ConvergedPgtol => "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL",
            StopReason::ConvergedFactr => "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH",
            StopReason::AbnormalLineSearch => "ABNORMAL_TERMINATION_IN_LNSRCH",
            StopReason::MaxIterations => "STOP: TOTAL NO. of ITERATIONS REACHED LIMIT",
            StopReason::MaxEvaluations => "STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT",
            StopReason::Error(e) => match e {
                InputError::NoVariables => "ERROR: N .LE. 0",
                InputError::NoHistory => "ERROR: M .LE. 0",
                InputError::NegativeFactr => "ERROR: FACTR .LT. 0",
                InputError::NoFeasibleSolution => "ERROR: NO FEASIBLE SOLUTION",
                InputError::BoundsLength => "length of x0 != length of bounds",
                InputError::MaxLineSearch => "maxls must be positive.",
            },
        }
    }

    /// Converged (scipy's `warnflag == 0`).
    pub fn converged(self) -> bool {
        matches!(
            self,
            StopReason::ConvergedPgtol | StopReason::ConvergedFactr
        )
    }
}

/// mainlb's `task`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Task {
    Start,
    FgStart,
    FgLnsrch,
    NewX,
    RestartFromLnsrch,
    Done(StopReason),
}

/// dcsrch's `task` (`csave`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum SearchTask {
    Start,
    Fg,
    Convergence,
    Warning,
    Error,
}

/// dcsrch's saved state (`isave(2)`, `dsave(13)`).
#[derive(Clone, Debug)]
struct Dcsrch {
    task: SearchTask,
    brackt: bool,
    stage: u8,
    ginit: f64,
    gtest: f64,
    gx: f64,
    gy: f64,
    finit: f64,
    fx: f64,
    fy: f64,
    stx: f64,
    sty: f64,
    stmin: f64,
    stmax: f64,
    width: f64,
    width1: f64,
}

/// scipy's `ScalarFunction` memo: the last point evaluated and its f and g.
#[derive(Clone, Debug)]
struct Memo {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// One minimisation in progress.
#[derive(Clone, Debug)]
pub struct BoxLbfgs {
    // The problem.
    n: usize,
    m: usize,
    l: Vec<f64>,
    u: Vec<f64>,
    nbd: Vec<u8>,
    factr: f64,
    pgtol: f64,
    maxls: usize,
    max_iterations: usize,
    max_evaluations: usize,

    // The Fortran's arguments and work arrays (mainlb's names).
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    ws: Vec<f64>,
    wy: Vec<f64>,
    sy: Vec<f64>,
    ss: Vec<f64>,
    wt: Vec<f64>,
    wn: Vec<f64>,
    snd: Vec<f64>,
    z: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    t: Vec<f64>,
    xp: Vec<f64>,
    wa: Vec<f64>,
    /// Variable numbers (0-based); positions in these arrays are 1-based in the code.
    index: Vec<usize>,
    iwhere: Vec<i8>,
    indx2: Vec<usize>,

    // mainlb's saved scalars (lsave, isave, dsave).
    task: Task,
    cnstnd: bool,
    boxed: bool,
    updatd: bool,
    iback: usize,
    head: usize,
    col: usize,
    itail: usize,
    iter: usize,
    iupdat: usize,
    info: i32,
    ifun: usize,
    nfree: usize,
    ileave: usize,
    nenter: usize,
    theta: f64,
    fold: f64,
    tol: f64,
    epsmch: f64,
    gd: f64,
    stpmx: f64,
    sbgnrm: f64,
    stp: f64,
    gdold: f64,
    dtd: f64,
    search: Dcsrch,

    // The Python driver.
    memo: Option<Memo>,
    iterate: Vec<f64>,
    n_iterations: usize,
    nfev: usize,
}

/// Index of `a(i, j)` (1-based) in a column-major array with leading dimension `ld`.
#[inline]
fn at(ld: usize, i: usize, j: usize) -> usize {
    (i - 1) + (j - 1) * ld
}

/// BLAS `ddot` with unit strides, summed as scipy's OpenBLAS does it on x86-64 with AVX-512
/// (its SkylakeX kernel, `kernel/x86_64/ddot_microk_skylakex-2.c` of OpenBLAS 0.3.27): the
/// first `n & !15` terms in 32 (then 16) lanes of fused multiply-adds, the lanes folded in a
/// fixed order, the rest added one fused multiply-add at a time.
fn ddot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let n1 = n & !15;
    let mut dot = 0.0f64;
    if n1 > 0 {
        let n32 = n1 & !31;
        let mut acc = [[0.0f64; 4]; 4];
        let mut i = 0;
        if n32 > 0 {
            let mut wide = [[0.0f64; 8]; 4];
            while i < n32 {
                for (r, lanes) in wide.iter_mut().enumerate() {
                    for (l, a) in lanes.iter_mut().enumerate() {
                        let k = i + 8 * r + l;
                        *a = x[k].mul_add(y[k], *a);
                    }
                }
                i += 32;
            }
            for (a, w) in acc.iter_mut().zip(&wide) {
                for l in 0..4 {
                    a[l] = w[l] + w[l + 4];
                }
            }
        }
        while i < n1 {
            for (r, lanes) in acc.iter_mut().enumerate() {
                for (l, a) in lanes.iter_mut().enumerate() {
                    let k = i + 4 * r + l;
                    *a = x[k].mul_add(y[k], *a);
                }
            }
            i += 16;
        }
        let lane = |l: usize| ((acc[0][l] + acc[1][l]) + acc[2][l]) + acc[3][l];
        dot = (lane(0) + lane(2)) + (lane(1) + lane(3));
    }
    for i in n1..n {
        dot = y[i].mul_add(x[i], dot);
    }
    dot
}

/// BLAS `daxpy` with unit strides, `y += da · x`, one fused multiply-add per element as
/// scipy's OpenBLAS computes it (nothing when `da` is 0).
fn daxpy(da: f64, x: &[f64], y: &mut [f64]) {
    if da == 0.0 {
        return;
    }
    for (y, x) in y.iter_mut().zip(x) {
        *y = da.mul_add(*x, *y);
    }
}

/// Reference BLAS `dscal`.
fn dscal(da: f64, x: &mut [f64]) {
    for v in x {
        *v *= da;
    }
}

/// LINPACK `dpofa`: Cholesky factor (upper) of the `n × n` block of `a` whose (1, 1) element
/// is `a(off + 1, off + 1)`; returns `info` (0, or the order of the leading minor that is
/// not positive definite).
fn dpofa(a: &mut [f64], off: usize, lda: usize, n: usize) -> i32 {
    let ix = |i: usize, j: usize| at(lda, off + i, off + j);
    for j in 1..=n {
        let mut s = 0.0;
        for k in 1..j {
            let (ck, cj) = (ix(1, k), ix(1, j));
            let dot = ddot(&a[ck..ck + k - 1], &a[cj..cj + k - 1]);
            let mut t = a[ix(k, j)] - dot;
            t /= a[ix(k, k)];
            a[ix(k, j)] = t;
            s += t * t;
        }
        s = a[ix(j, j)] - s;
        if s <= 0.0 {
            return j as i32;
        }
        a[ix(j, j)] = s.sqrt();
    }
    0
}

/// The two cases of LINPACK `dtrsl` that L-BFGS-B uses, `T` upper triangular.
#[derive(Clone, Copy, PartialEq)]
enum Trsl {
    /// job = 01: solve `T·x = b`.
    Upper,
    /// job = 11: solve `Tᵀ·x = b`.
    UpperTransposed,
}

/// LINPACK `dtrsl` on the leading `n × n` block of `t` (leading dimension `ldt`), `b` solved in
/// place; returns `info` (0, or the index of a zero diagonal element).
fn dtrsl(t: &[f64], ldt: usize, n: usize, b: &mut [f64], job: Trsl) -> i32 {
    for info in 1..=n {
        if t[at(ldt, info, info)] == 0.0 {
            return info as i32;
        }
    }
    match job {
        Trsl::Upper => {
            b[n - 1] /= t[at(ldt, n, n)];
            for jj in 2..=n {
                let j = n - jj + 1;
                let temp = -b[j];
                // daxpy(j, temp, t(1, j+1), 1, b(1), 1)
                let col = at(ldt, 1, j + 1);
                daxpy(temp, &t[col..col + j], &mut b[..j]);
                b[j - 1] /= t[at(ldt, j, j)];
            }
        }
        Trsl::UpperTransposed => {
            b[0] /= t[at(ldt, 1, 1)];
            for j in 2..=n {
                let col = at(ldt, 1, j);
                b[j - 1] -= ddot(&t[col..col + j - 1], &b[..j - 1]);
                b[j - 1] /= t[at(ldt, j, j)];
            }
        }
    }
    0
}

/// `bmv`: the product of the 2m × 2m middle matrix of the compact L-BFGS formula with the
/// 2·col vector `v`, into `p`.
fn bmv(m: usize, sy: &[f64], wt: &[f64], col: usize, v: &[f64], p: &mut [f64]) -> i32 {
    if col == 0 {
        return 0;
    }
    let sy_ = |i: usize, j: usize| sy[at(m, i, j)];
    // PART I: solve [ D^(1/2)  O ] [ p1 ] = [ v1 ]
    //               [ -L*D^(-1/2) J ] [ p2 ]   [ v2 ].
    p[col] = v[col];
    for i in 2..=col {
        let i2 = col + i;
        let mut sum = 0.0;
        for k in 1..i {
            sum += sy_(i, k) * v[k - 1] / sy_(k, k);
        }
        p[i2 - 1] = v[i2 - 1] + sum;
    }
    let info = dtrsl(wt, m, col, &mut p[col..2 * col], Trsl::UpperTransposed);
    if info != 0 {
        return info;
    }
    for i in 1..=col {
        p[i - 1] = v[i - 1] / sy_(i, i).sqrt();
    }
    // PART II.
    let info = dtrsl(wt, m, col, &mut p[col..2 * col], Trsl::Upper);
    if info != 0 {
        return info;
    }
    for i in 1..=col {
        p[i - 1] = -p[i - 1] / sy_(i, i).sqrt();
    }
    for i in 1..=col {
        let mut sum = 0.0;
        for k in i + 1..=col {
            sum += sy_(k, i) * p[col + k - 1] / sy_(i, i);
        }
        p[i - 1] += sum;
    }
    0
}

/// `hpsolb`: heap operations on the breakpoints `t(1..n)` and their variables `iorder`.
fn hpsolb(n: usize, t: &mut [f64], iorder: &mut [usize], iheap: usize) {
    if iheap == 0 {
        // Rearrange t(1) to t(n) into a heap.
        for k in 2..=n {
            let ddum = t[k - 1];
            let indxin = iorder[k - 1];
            let mut i = k;
            while i > 1 {
                let j = i / 2;
                if ddum < t[j - 1] {
                    t[i - 1] = t[j - 1];
                    iorder[i - 1] = iorder[j - 1];
                    i = j;
                } else {
                    break;
                }
            }
            t[i - 1] = ddum;
            iorder[i - 1] = indxin;
        }
    }
    // Move the least element of the heap to t(n) and restore the heap on t(1..n-1).
    if n > 1 {
        let mut i = 1;
        let out = t[0];
        let indxou = iorder[0];
        let ddum = t[n - 1];
        let indxin = iorder[n - 1];
        loop {
            let mut j = i + i;
            if j < n {
                if t[j] < t[j - 1] {
                    j += 1;
                }
                if t[j - 1] < ddum {
                    t[i - 1] = t[j - 1];
                    iorder[i - 1] = iorder[j - 1];
                    i = j;
                    continue;
                }
            }
            break;
        }
        t[i - 1] = ddum;
        iorder[i - 1] = indxin;
        t[n - 1] = out;
        iorder[n - 1] = indxou;
    }
}

/// `dcstep`: the safeguarded step of Moré & Thuente's line search.
fn dcstep(
    stx: &mut f64,
    fx: &mut f64,
    dx: &mut f64,
    sty: &mut f64,
    fy: &mut f64,
    dy: &mut f64,
    stp: &mut f64,
    fp: f64,
    dp: f64,
    brackt: &mut bool,
    stpmin: f64,
    stpmax: f64,
) {
    const P66: f64 = 0.66;
    let max3 = |a: f64, b: f64, c: f64| a.max(b).max(c);
    let sgnd = dp * (*dx / dx.abs());
    let stpf;
    if fp > *fx {
        // A higher function value: the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = max3(theta.abs(), dx.abs(), dp.abs());
        let mut gamma = s * ((theta / s) * (theta / s) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let r = p / q;
        let stpc = *stx + r * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (stpc - *stx).abs() < (stpq - *stx).abs() {
            stpf = stpc;
        } else {
            stpf = stpc + (stpq - stpc) / 2.0;
        }
        *brackt = true;
    } else if sgnd < 0.0 {
        // Derivatives of opposite sign: the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = max3(theta.abs(), dx.abs(), dp.abs());
        let mut gamma = s * ((theta / s) * (theta / s) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let r = p / q;
        let stpc = *stp + r * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (stpc - *stp).abs() > (stpq - *stp).abs() {
            stpf = stpc;
        } else {
            stpf = stpq;
        }
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // A lower function value, same-sign derivatives, the derivative decreases.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = max3(theta.abs(), dx.abs(), dp.abs());
        let mut gamma = s
            * (0.0f64)
                .max((theta / s) * (theta / s) - (*dx / s) * (dp / s))
                .sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            let mut f = if (stpc - *stp).abs() < (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            if *stp > *stx {
                f = (*stp + P66 * (*sty - *stp)).min(f);
            } else {
                f = (*stp + P66 * (*sty - *stp)).max(f);
            }
            stpf = f;
        } else {
            let mut f = if (stpc - *stp).abs() > (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            f = stpmax.min(f);
            f = stpmin.max(f);
            stpf = f;
        }
    } else {
        // A lower function value, same-sign derivatives, the derivative does not decrease.
        if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = max3(theta.abs(), dy.abs(), dp.abs());
            let mut gamma = s * ((theta / s) * (theta / s) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            let r = p / q;
            let stpc = *stp + r * (*sty - *stp);
            stpf = stpc;
        } else if *stp > *stx {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }
    // Update the interval which contains a minimizer.
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

impl Dcsrch {
    fn new() -> Self {
        Self {
            task: SearchTask::Start,
            brackt: false,
            stage: 0,
            ginit: 0.0,
            gtest: 0.0,
            gx: 0.0,
            gy: 0.0,
            finit: 0.0,
            fx: 0.0,
            fy: 0.0,
            stx: 0.0,
            sty: 0.0,
            stmin: 0.0,
            stmax: 0.0,
            width: 0.0,
            width1: 0.0,
        }
    }

    /// `dcsrch` (Moré & Thuente) with L-BFGS-B's constants `ftol = 1e-3`, `gtol = 0.9`,
    /// `xtol = 0.1`, `stpmin = 0`.
    fn step(&mut self, f: f64, g: f64, stp: &mut f64, stpmax: f64) {
        const FTOL: f64 = 1e-3;
        const GTOL: f64 = 0.9;
        const XTOL: f64 = 0.1;
        const STPMIN: f64 = 0.0;
        const P5: f64 = 0.5;
        const P66: f64 = 0.66;
        const XTRAPL: f64 = 1.1;
        const XTRAPU: f64 = 4.0;

        if self.task == SearchTask::Start {
            // Check the input arguments for errors (nothing is saved on an error).
            if *stp < STPMIN || *stp > stpmax || g >= 0.0 || stpmax < STPMIN {
                self.task = SearchTask::Error;
                return;
            }
            self.brackt = false;
            self.stage = 1;
            self.finit = f;
            self.ginit = g;
            self.gtest = FTOL * self.ginit;
            self.width = stpmax - STPMIN;
            self.width1 = self.width / P5;
            self.stx = 0.0;
            self.fx = self.finit;
            self.gx = self.ginit;
            self.sty = 0.0;
            self.fy = self.finit;
            self.gy = self.ginit;
            self.stmin = 0.0;
            self.stmax = *stp + XTRAPU * *stp;
            self.task = SearchTask::Fg;
            return;
        }

        let ftest = self.finit + *stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        // Test for warnings, then for convergence (the last one that holds wins).
        let mut task = self.task;
        if self.brackt && (*stp <= self.stmin || *stp >= self.stmax) {
            task = SearchTask::Warning; // ROUNDING ERRORS PREVENT PROGRESS
        }
        if self.brackt && self.stmax - self.stmin <= XTOL * self.stmax {
            task = SearchTask::Warning; // XTOL TEST SATISFIED
        }
        if *stp == stpmax && f <= ftest && g <= self.gtest {
            task = SearchTask::Warning; // STP = STPMAX
        }
        if *stp == STPMIN && (f > ftest || g >= self.gtest) {
            task = SearchTask::Warning; // STP = STPMIN
        }
        if f <= ftest && g.abs() <= GTOL * (-self.ginit) {
            task = SearchTask::Convergence;
        }
        if matches!(task, SearchTask::Warning | SearchTask::Convergence) {
            self.task = task;
            return;
        }

        // A modified function in the first stage if a lower function value has been obtained
        // but the decrease is not sufficient.
        if self.stage == 1 && f <= self.fx && f > ftest {
            let fm = f - *stp * self.gtest;
            let mut fxm = self.fx - self.stx * self.gtest;
            let mut fym = self.fy - self.sty * self.gtest;
            let gm = g - self.gtest;
            let mut gxm = self.gx - self.gtest;
            let mut gym = self.gy - self.gtest;
            dcstep(
                &mut self.stx,
                &mut fxm,
                &mut gxm,
                &mut self.sty,
                &mut fym,
                &mut gym,
                stp,
                fm,
                gm,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
            self.fx = fxm + self.stx * self.gtest;
            self.fy = fym + self.sty * self.gtest;
            self.gx = gxm + self.gtest;
            self.gy = gym + self.gtest;
        } else {
            dcstep(
                &mut self.stx,
                &mut self.fx,
                &mut self.gx,
                &mut self.sty,
                &mut self.fy,
                &mut self.gy,
                stp,
                f,
                g,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
        }

        // Decide if a bisection step is needed.
        if self.brackt {
            if (self.sty - self.stx).abs() >= P66 * self.width1 {
                *stp = self.stx + P5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        // The minimum and maximum steps allowed for stp.
        if self.brackt {
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = *stp + XTRAPL * (*stp - self.stx);
            self.stmax = *stp + XTRAPU * (*stp - self.stx);
        }
        *stp = stp.max(STPMIN);
        *stp = stp.min(stpmax);
        // If further progress is not possible, let stp be the best point obtained.
        if self.brackt
            && (*stp <= self.stmin
                || *stp >= self.stmax
                || self.stmax - self.stmin <= XTOL * self.stmax)
        {
            *stp = self.stx;
        }
        self.task = SearchTask::Fg;
    }
}

/// Where mainlb continues (its labels).
enum Label {
    L111,
    L222,
    L666,
    L777,
}

impl BoxLbfgs {
    /// Starts at `x0` clipped to the bounds, which is the first point to evaluate. Invalid
    /// settings stop the solver at once with [`StopReason::Error`].
    pub fn new(x0: &[f64], settings: Settings) -> Self {
        let n = x0.len();
        let m = settings.history;
        let bounds: Vec<Bound> = match &settings.bounds {
            Bounds::Uniform(b) => vec![*b; n],
            Bounds::PerVariable(v) => v.clone(),
        };
        let length_ok = bounds.len() == n;
        let x: Vec<f64> = if length_ok {
            x0.iter().zip(&bounds).map(|(&v, b)| b.clip(v)).collect()
        } else {
            x0.to_vec()
        };
        let (l, u): (Vec<f64>, Vec<f64>) = bounds.iter().map(|b| b.ends()).unzip();
        let nbd = bounds.iter().map(|b| b.nbd()).collect();
        let mut solver = Self {
            n,
            m,
            l,
            u,
            nbd,
            factr: settings.factr,
            pgtol: settings.pgtol,
            maxls: settings.max_line_search,
            max_iterations: settings.max_iterations,
            max_evaluations: settings.max_evaluations,
            iterate: x.clone(),
            x,
            f: 0.0,
            g: vec![0.0; n],
            ws: vec![0.0; m * n],
            wy: vec![0.0; m * n],
            sy: vec![0.0; m * m],
            ss: vec![0.0; m * m],
            wt: vec![0.0; m * m],
            wn: vec![0.0; 4 * m * m],
            snd: vec![0.0; 4 * m * m],
            z: vec![0.0; n],
            r: vec![0.0; n],
            d: vec![0.0; n],
            t: vec![0.0; n],
            xp: vec![0.0; n],
            wa: vec![0.0; 8 * m],
            index: vec![0; n],
            iwhere: vec![0; n],
            indx2: vec![0; n],
            task: Task::Start,
            cnstnd: false,
            boxed: false,
            updatd: false,
            iback: 0,
            head: 1,
            col: 0,
            itail: 0,
            iter: 0,
            iupdat: 0,
            info: 0,
            ifun: 0,
            nfree: n,
            ileave: 0,
            nenter: 0,
            theta: 1.0,
            fold: 0.0,
            tol: 0.0,
            epsmch: 0.0,
            gd: 0.0,
            stpmx: 0.0,
            sbgnrm: 0.0,
            stp: 0.0,
            gdold: 0.0,
            dtd: 0.0,
            search: Dcsrch::new(),
            memo: None,
            n_iterations: 0,
            nfev: 0,
        };
        if !length_ok {
            solver.task = Task::Done(StopReason::Error(InputError::BoundsLength));
        } else if settings.max_line_search == 0 {
            solver.task = Task::Done(StopReason::Error(InputError::MaxLineSearch));
        } else {
            solver.mainlb();
        }
        solver
    }

    /// The point whose value and gradient the solver needs next (the solution once done).
    pub fn point(&self) -> &[f64] {
        &self.x
    }

    pub fn is_done(&self) -> bool {
        matches!(self.task, Task::Done(_))
    }

    /// Why the solver stopped (`None` while it runs).
    pub fn stop_reason(&self) -> Option<StopReason> {
        match self.task {
            Task::Done(reason) => Some(reason),
            _ => None,
        }
    }

    /// The last accepted iterate (`x0` clipped before the first): once done, what
    /// `fmin_l_bfgs_b` returns as `x`.
    pub fn solution(&self) -> &[f64] {
        &self.iterate
    }

    /// Iterations so far (scipy's `nit`: the `NEW_X` events).
    pub fn iterations(&self) -> usize {
        self.n_iterations
    }

    /// Evaluations of f and g so far (scipy's `nfev`: the start point once, and a point
    /// requested again right after its evaluation not again).
    pub fn evaluations(&self) -> usize {
        self.nfev
    }

    /// Reports f and its gradient at [`point`](Self::point); afterwards either a new point is
    /// wanted or the solver is done. Ignored once done.
    pub fn tell(&mut self, f: f64, g: &[f64]) {
        if self.is_done() {
            return;
        }
        assert_eq!(g.len(), self.n, "gradient of the wrong length");
        self.nfev += 1;
        self.memo = Some(Memo {
            x: self.x.clone(),
            f,
            g: g.to_vec(),
        });
        self.f = f;
        self.g.copy_from_slice(g);
        self.drive();
    }

    /// The Python driver's loop, from a call of `setulb` with f and g at x until f and g are
    /// wanted at a new point or the run is over.
    fn drive(&mut self) {
        loop {
            self.mainlb();
            match self.task {
                Task::FgStart | Task::FgLnsrch => {
                    // ScalarFunction's memo: no evaluation at the point just evaluated.
                    match &self.memo {
                        Some(memo) if memo.x == self.x => {
                            self.f = memo.f;
                            self.g.copy_from_slice(&memo.g);
                        }
                        _ => return,
                    }
                }
                Task::NewX => {
                    self.n_iterations += 1;
                    self.iterate.copy_from_slice(&self.x);
                    if self.n_iterations >= self.max_iterations {
                        self.task = Task::Done(StopReason::MaxIterations);
                    } else if self.nfev > self.max_evaluations {
                        self.task = Task::Done(StopReason::MaxEvaluations);
                    }
                }
                Task::Done(_) => {
                    self.iterate.copy_from_slice(&self.x);
                    return;
                }
                Task::Start | Task::RestartFromLnsrch => unreachable!("mainlb never stops there"),
            }
        }
    }

    /// Resets the limited-memory matrices (mainlb's answer to numerical trouble).
    fn refresh(&mut self) {
        self.info = 0;
        self.col = 0;
        self.head = 1;
        self.theta = 1.0;
        self.iupdat = 0;
        self.updatd = false;
    }

    /// `mainlb`: one call, from the entry that `task` selects to the next return.
    fn mainlb(&mut self) {
        let mut label = match self.task {
            Task::Start => {
                self.epsmch = f64::EPSILON; // 2 * dlamch('e')
                self.refresh();
                self.iback = 0;
                self.itail = 0;
                self.ileave = 0;
                self.nenter = 0;
                self.fold = 0.0;
                self.gd = 0.0;
                self.stpmx = 0.0;
                self.sbgnrm = 0.0;
                self.stp = 0.0;
                self.gdold = 0.0;
                self.dtd = 0.0;
                self.iter = 0;
                self.nfree = self.n;
                self.ifun = 0;
                self.tol = self.factr * self.epsmch;
                if let Some(error) = self.errclb() {
                    self.task = Task::Done(StopReason::Error(error));
                    return;
                }
                self.active();
                self.task = Task::FgStart;
                return;
            }
            Task::FgStart => Label::L111,
            Task::FgLnsrch => Label::L666,
            Task::NewX => Label::L777,
            Task::RestartFromLnsrch | Task::Done(_) => return,
        };
        loop {
            label = match label {
                Label::L111 => {
                    self.sbgnrm = self.projgr();
                    if self.sbgnrm <= self.pgtol {
                        self.task = Task::Done(StopReason::ConvergedPgtol);
                        return;
                    }
                    Label::L222
                }
                Label::L222 => {
                    let wrk = if !self.cnstnd && self.col > 0 {
                        // Unconstrained with history: skip the search for the GCP.
                        self.z.copy_from_slice(&self.x);
                        self.updatd
                    } else {
                        // Compute the generalized Cauchy point.
                        if self.cauchy() != 0 {
                            // Singular triangular system detected.
                            self.refresh();
                            continue;
                        }
                        self.freev()
                    };
                    // 333: the subspace minimisation.
                    if self.nfree != 0 && self.col != 0 {
                        if wrk {
                            self.info = self.formk();
                        }
                        if self.info != 0 {
                            // Nonpositive definiteness in the Cholesky factorization.
                            self.refresh();
                            continue;
                        }
                        self.info = self.cmprlb();
                        if self.info == 0 {
                            self.info = self.subsm();
                        }
                        if self.info != 0 {
                            // Singular triangular system detected.
                            self.refresh();
                            continue;
                        }
                    }
                    // 555: the search direction.
                    for i in 0..self.n {
                        self.d[i] = self.z[i] - self.x[i];
                    }
                    Label::L666
                }
                Label::L666 => {
                    self.lnsrlb();
                    if self.info != 0 || self.iback >= self.maxls {
                        // Restore the previous iterate.
                        self.x.copy_from_slice(&self.t);
                        self.g.copy_from_slice(&self.r);
                        self.f = self.fold;
                        if self.col == 0 {
                            // Abnormal termination.
                            if self.info == 0 {
                                self.info = -9;
                                self.ifun -= 1;
                                self.iback -= 1;
                            }
                            self.iter += 1;
                            self.task = Task::Done(StopReason::AbnormalLineSearch);
                            return;
                        }
                        // Refresh the memory and restart the iteration.
                        self.refresh();
                        self.task = Task::RestartFromLnsrch;
                        Label::L222
                    } else if self.task == Task::FgLnsrch {
                        return;
                    } else {
                        // A new iterate: test for termination on the next call.
                        self.iter += 1;
                        self.sbgnrm = self.projgr();
                        return;
                    }
                }
                Label::L777 => {
                    if self.sbgnrm <= self.pgtol {
                        self.task = Task::Done(StopReason::ConvergedPgtol);
                        return;
                    }
                    let ddum = self.fold.abs().max(self.f.abs()).max(1.0);
                    if self.fold - self.f <= self.tol * ddum {
                        self.task = Task::Done(StopReason::ConvergedFactr);
                        return;
                    }
                    // The new correction pair: r = g - g_old, d = x - x_old.
                    for i in 0..self.n {
                        self.r[i] = self.g[i] - self.r[i];
                    }
                    let rr = ddot(&self.r, &self.r);
                    let dr;
                    let ddum;
                    if self.stp == 1.0 {
                        dr = self.gd - self.gdold;
                        ddum = -self.gdold;
                    } else {
                        dr = (self.gd - self.gdold) * self.stp;
                        dscal(self.stp, &mut self.d);
                        ddum = -self.gdold * self.stp;
                    }
                    if dr <= self.epsmch * ddum {
                        // Skip the L-BFGS update.
                        self.updatd = false;
                        Label::L222
                    } else {
                        self.updatd = true;
                        self.iupdat += 1;
                        self.matupd(rr, dr);
                        self.info = self.formt();
                        if self.info != 0 {
                            self.refresh();
                        }
                        Label::L222
                    }
                }
            };
        }
    }

    /// `errclb`: the checks of the input (the last failing one names the error).
    fn errclb(&self) -> Option<InputError> {
        let mut error = None;
        if self.n == 0 {
            error = Some(InputError::NoVariables);
        }
        if self.m == 0 {
            error = Some(InputError::NoHistory);
        }
        if self.factr < 0.0 {
            error = Some(InputError::NegativeFactr);
        }
        for i in 0..self.n {
            if self.nbd[i] == 2 && self.l[i] > self.u[i] {
                error = Some(InputError::NoFeasibleSolution);
            }
        }
        error
    }

    /// `active`: projects x0 onto the feasible set and initialises `iwhere`.
    fn active(&mut self) {
        self.cnstnd = false;
        self.boxed = true;
        for i in 0..self.n {
            if self.nbd[i] > 0 {
                if self.nbd[i] <= 2 && self.x[i] <= self.l[i] {
                    if self.x[i] < self.l[i] {
                        self.x[i] = self.l[i];
                    }
                } else if self.nbd[i] >= 2 && self.x[i] >= self.u[i] && self.x[i] > self.u[i] {
                    self.x[i] = self.u[i];
                }
            }
        }
        for i in 0..self.n {
            if self.nbd[i] != 2 {
                self.boxed = false;
            }
            if self.nbd[i] == 0 {
                // This variable is always free.
                self.iwhere[i] = -1;
            } else {
                self.cnstnd = true;
                if self.nbd[i] == 2 && self.u[i] - self.l[i] <= 0.0 {
                    // This variable is always fixed.
                    self.iwhere[i] = 3;
                } else {
                    self.iwhere[i] = 0;
                }
            }
        }
    }

    /// `projgr`: the infinity norm of the projected gradient.
    fn projgr(&self) -> f64 {
        let mut sbgnrm = 0.0f64;
        for i in 0..self.n {
            let mut gi = self.g[i];
            if gi.is_nan() {
                return gi;
            }
            if self.nbd[i] != 0 {
                if gi < 0.0 {
                    if self.nbd[i] >= 2 {
                        gi = (self.x[i] - self.u[i]).max(gi);
                    }
                } else if self.nbd[i] <= 2 {
                    gi = (self.x[i] - self.l[i]).min(gi);
                }
            }
            sbgnrm = sbgnrm.max(gi.abs());
        }
        sbgnrm
    }

    /// `cauchy`: the generalized Cauchy point into `z`, with `c = Wᵀ(xcp − x)` in `wa`.
    /// Returns `info`.
    fn cauchy(&mut self) -> i32 {
        let (n, m, col, head, theta) = (self.n, self.m, self.col, self.head, self.theta);
        if self.sbgnrm <= 0.0 {
            self.z.copy_from_slice(&self.x);
            return 0;
        }
        let mut bnded = true;
        let mut nfree = n + 1;
        let mut nbreak = 0usize;
        let mut ibkmin = 0usize;
        let mut tl = 0.0;
        let mut tu = 0.0;
        let mut bkmin = 0.0;
        let col2 = 2 * col;
        let mut f1 = 0.0;
        // wa holds p (2m), c (2m), wbp (2m), v (2m).
        let (p, rest) = self.wa.split_at_mut(2 * m);
        let (c, rest) = rest.split_at_mut(2 * m);
        let (wbp, v) = rest.split_at_mut(2 * m);
        let (x, l, u, nbd, g) = (&self.x, &self.l, &self.u, &self.nbd, &self.g);
        let (ws, wy) = (&self.ws, &self.wy);
        let (iwhere, d, t, iorder) = (&mut self.iwhere, &mut self.d, &mut self.t, &mut self.indx2);
        let xcp = &mut self.z;

        for i in 0..col2 {
            p[i] = 0.0;
        }
        // The breakpoints, the direction and p = Wᵀd.
        for i in 0..n {
            let neggi = -g[i];
            if iwhere[i] != 3 && iwhere[i] != -1 {
                // If x(i) is not a constant and has bounds, the distances to them.
                if nbd[i] <= 2 {
                    tl = x[i] - l[i];
                }
                if nbd[i] >= 2 {
                    tu = u[i] - x[i];
                }
                let xlower = nbd[i] <= 2 && tl <= 0.0;
                let xupper = nbd[i] >= 2 && tu <= 0.0;
                iwhere[i] = 0;
                if xlower {
                    if neggi <= 0.0 {
                        iwhere[i] = 1;
                    }
                } else if xupper {
                    if neggi >= 0.0 {
                        iwhere[i] = 2;
                    }
                } else if neggi.abs() <= 0.0 {
                    iwhere[i] = -3;
                }
            }
            let mut pointr = head;
            if iwhere[i] != 0 && iwhere[i] != -1 {
                d[i] = 0.0;
            } else {
                d[i] = neggi;
                f1 -= neggi * neggi;
                for j in 1..=col {
                    p[j - 1] += wy[at(n, i + 1, pointr)] * neggi;
                    p[col + j - 1] += ws[at(n, i + 1, pointr)] * neggi;
                    pointr = pointr % m + 1;
                }
                if nbd[i] <= 2 && nbd[i] != 0 && neggi < 0.0 {
                    // x(i) + d(i) is bounded; the breakpoint.
                    nbreak += 1;
                    iorder[nbreak - 1] = i;
                    t[nbreak - 1] = tl / (-neggi);
                    if nbreak == 1 || t[nbreak - 1] < bkmin {
                        bkmin = t[nbreak - 1];
                        ibkmin = nbreak;
                    }
                } else if nbd[i] >= 2 && neggi > 0.0 {
                    nbreak += 1;
                    iorder[nbreak - 1] = i;
                    t[nbreak - 1] = tu / neggi;
                    if nbreak == 1 || t[nbreak - 1] < bkmin {
                        bkmin = t[nbreak - 1];
                        ibkmin = nbreak;
                    }
                } else {
                    // x(i) + d(i) is not bounded.
                    nfree -= 1;
                    iorder[nfree - 1] = i;
                    if neggi.abs() > 0.0 {
                        bnded = false;
                    }
                }
            }
        }
        // The direction is now -g projected; p = Wᵀd.
        if theta != 1.0 {
            dscal(theta, &mut p[col..col2]);
        }
        xcp.copy_from_slice(x);
        if nbreak == 0 && nfree == n + 1 {
            // d is a zero vector: the GCP is x.
            return 0;
        }
        for j in 0..col2 {
            c[j] = 0.0;
        }
        // f1 and f2 at the start, the derivatives of the model along d.
        let mut f2 = -theta * f1;
        let f2_org = f2;
        if col > 0 {
            let info = bmv(m, &self.sy, &self.wt, col, p, v);
            if info != 0 {
                return info;
            }
            f2 -= ddot(&v[..col2], &p[..col2]);
        }
        let mut dtm = -f1 / f2;
        let mut tsum = 0.0;
        let mut past_last_segment = false;
        if nbreak > 0 {
            let mut nleft = nbreak;
            let mut iter = 1usize;
            let mut tj = 0.0;
            loop {
                // 777: the next breakpoint.
                let tj0 = tj;
                let ibp;
                if iter == 1 {
                    // The smallest breakpoint is known from the scan.
                    tj = bkmin;
                    ibp = iorder[ibkmin - 1];
                } else {
                    if iter == 2 {
                        // Replace the already used smallest breakpoint with the last one
                        // before heapsorting.
                        if ibkmin != nbreak {
                            t[ibkmin - 1] = t[nbreak - 1];
                            iorder[ibkmin - 1] = iorder[nbreak - 1];
                        }
                    }
                    hpsolb(nleft, t, iorder, iter - 2);
                    tj = t[nleft - 1];
                    ibp = iorder[nleft - 1];
                }
                let dt = tj - tj0;
                // The minimiser is within this interval: the GCP is found.
                if dtm < dt {
                    break;
                }
                // Otherwise fix one variable and reset the derivatives.
                tsum += dt;
                nleft -= 1;
                iter += 1;
                let dibp = d[ibp];
                d[ibp] = 0.0;
                let zibp;
                if dibp > 0.0 {
                    zibp = u[ibp] - x[ibp];
                    xcp[ibp] = u[ibp];
                    iwhere[ibp] = 2;
                } else {
                    zibp = l[ibp] - x[ibp];
                    xcp[ibp] = l[ibp];
                    iwhere[ibp] = 1;
                }
                if nleft == 0 && nbreak == n {
                    // All n variables are fixed: the GCP is xcp.
                    dtm = dt;
                    past_last_segment = true;
                    break;
                }
                // Update the derivatives f1 and f2.
                let dibp2 = dibp * dibp;
                f1 = f1 + dt * f2 + dibp2 - theta * dibp * zibp;
                f2 -= theta * dibp2;
                if col > 0 {
                    // c = c + dt·p.
                    daxpy(dt, &p[..col2], &mut c[..col2]);
                    // wbp, the row of W for the breakpoint variable.
                    let mut pointr = head;
                    for j in 1..=col {
                        wbp[j - 1] = wy[at(n, ibp + 1, pointr)];
                        wbp[col + j - 1] = theta * ws[at(n, ibp + 1, pointr)];
                        pointr = pointr % m + 1;
                    }
                    let info = bmv(m, &self.sy, &self.wt, col, wbp, v);
                    if info != 0 {
                        return info;
                    }
                    let wmc = ddot(&c[..col2], &v[..col2]);
                    let wmp = ddot(&p[..col2], &v[..col2]);
                    let wmw = ddot(&wbp[..col2], &v[..col2]);
                    // p = p - dibp·wbp.
                    daxpy(-dibp, &wbp[..col2], &mut p[..col2]);
                    f1 += dibp * wmc;
                    f2 = f2 + 2.0 * dibp * wmp - dibp2 * wmw;
                }
                f2 = (self.epsmch * f2_org).max(f2);
                if nleft > 0 {
                    dtm = -f1 / f2;
                    continue;
                } else if bnded {
                    dtm = 0.0; // (and f1 = f2 = 0)
                } else {
                    dtm = -f1 / f2;
                }
                break;
            }
        }
        if !past_last_segment {
            // 888
            if dtm <= 0.0 {
                dtm = 0.0;
            }
            tsum += dtm;
            // Move the free variables and those whose breakpoints were not reached.
            daxpy(tsum, d, xcp);
        }
        // 999: c = c + dtm·p.
        if col > 0 {
            daxpy(dtm, &p[..col2], &mut c[..col2]);
        }
        0
    }

    /// `freev`: the entering and leaving free variables (`indx2`) and the free set
    /// (`index`); returns `wrk`, whether the matrix K must be formed anew.
    fn freev(&mut self) -> bool {
        let n = self.n;
        self.nenter = 0;
        self.ileave = n + 1;
        if self.iter > 0 && self.cnstnd {
            // Count the entering and leaving variables.
            for i in 1..=self.nfree {
                let k = self.index[i - 1];
                if self.iwhere[k] > 0 {
                    self.ileave -= 1;
                    self.indx2[self.ileave - 1] = k;
                }
            }
            for i in 1 + self.nfree..=n {
                let k = self.index[i - 1];
                if self.iwhere[k] <= 0 {
                    self.nenter += 1;
                    self.indx2[self.nenter - 1] = k;
                }
            }
        }
        let wrk = self.ileave < n + 1 || self.nenter > 0 || self.updatd;
        // The free variables at the GCP first, the active ones last.
        self.nfree = 0;
        let mut iact = n + 1;
        for i in 0..n {
            if self.iwhere[i] <= 0 {
                self.nfree += 1;
                self.index[self.nfree - 1] = i;
            } else {
                iact -= 1;
                self.index[iact - 1] = i;
            }
        }
        wrk
    }

    /// `formk`: the LEL^T factorization of the indefinite matrix K of the subspace problem,
    /// into `wn` (with its blocks kept in `snd`, the Fortran's `wn1`). Returns `info`.
    fn formk(&mut self) -> i32 {
        let (n, m, col, head, theta) = (self.n, self.m, self.col, self.head, self.theta);
        let m2 = 2 * m;
        let nsub = self.nfree;
        let (ind, indx2) = (&self.index, &self.indx2);
        let (ws, wy, sy) = (&self.ws, &self.wy, &self.sy);
        let wn1 = &mut self.snd;
        let wn = &mut self.wn;
        let w = |a: &[f64], k: usize, j: usize| a[k + (j - 1) * n];
        let upcl;
        if self.updatd {
            if self.iupdat > m {
                // Shift the old part of wn1.
                for jy in 1..m {
                    let js = m + jy;
                    let len = m - jy;
                    let src = at(m2, jy + 1, jy + 1);
                    wn1.copy_within(src..src + len, at(m2, jy, jy));
                    let src = at(m2, js + 1, js + 1);
                    wn1.copy_within(src..src + len, at(m2, js, js));
                    let src = at(m2, m + 2, jy + 1);
                    wn1.copy_within(src..src + m - 1, at(m2, m + 1, jy));
                }
            }
            // The new row and column of the blocks.
            let (pbegin, pend, dbegin, dend) = (1, nsub, nsub + 1, n);
            let iy = col;
            let is = m + col;
            let mut ipntr = head + col - 1;
            if ipntr > m {
                ipntr -= m;
            }
            let mut jpntr = head;
            for jy in 1..=col {
                let js = m + jy;
                let mut temp1 = 0.0;
                let mut temp2 = 0.0;
                let mut temp3 = 0.0;
                for k in pbegin..=pend {
                    let k1 = ind[k - 1];
                    temp1 += w(wy, k1, ipntr) * w(wy, k1, jpntr);
                }
                for k in dbegin..=dend {
                    let k1 = ind[k - 1];
                    temp2 += w(ws, k1, ipntr) * w(ws, k1, jpntr);
                    temp3 += w(ws, k1, ipntr) * w(wy, k1, jpntr);
                }
                wn1[at(m2, iy, jy)] = temp1;
                wn1[at(m2, is, js)] = temp2;
                wn1[at(m2, is, jy)] = temp3;
                jpntr = jpntr % m + 1;
            }
            let jy = col;
            let mut jpntr = head + col - 1;
            if jpntr > m {
                jpntr -= m;
            }
            let mut ipntr = head;
            for i in 1..=col {
                let is = m + i;
                let mut temp3 = 0.0;
                for k in pbegin..=pend {
                    let k1 = ind[k - 1];
                    temp3 += w(ws, k1, ipntr) * w(wy, k1, jpntr);
                }
                ipntr = ipntr % m + 1;
                wn1[at(m2, is, jy)] = temp3;
            }
            upcl = col - 1;
        } else {
            upcl = col;
        }
        // Modify the old parts for the changes in the set of free variables.
        let mut ipntr = head;
        for iy in 1..=upcl {
            let is = m + iy;
            let mut jpntr = head;
            for jy in 1..=iy {
                let js = m + jy;
                let mut temp1 = 0.0;
                let mut temp2 = 0.0;
                let mut temp3 = 0.0;
                let mut temp4 = 0.0;
                for k in 1..=self.nenter {
                    let k1 = indx2[k - 1];
                    temp1 += w(wy, k1, ipntr) * w(wy, k1, jpntr);
                    temp2 += w(ws, k1, ipntr) * w(ws, k1, jpntr);
                }
                for k in self.ileave..=n {
                    let k1 = indx2[k - 1];
                    temp3 += w(wy, k1, ipntr) * w(wy, k1, jpntr);
                    temp4 += w(ws, k1, ipntr) * w(ws, k1, jpntr);
                }
                wn1[at(m2, iy, jy)] = wn1[at(m2, iy, jy)] + temp1 - temp3;
                wn1[at(m2, is, js)] = wn1[at(m2, is, js)] - temp2 + temp4;
                jpntr = jpntr % m + 1;
            }
            ipntr = ipntr % m + 1;
        }
        // The same for the lower-left block.
        let mut ipntr = head;
        for is in m + 1..=m + upcl {
            let mut jpntr = head;
            for jy in 1..=upcl {
                let mut temp1 = 0.0;
                let mut temp3 = 0.0;
                for k in 1..=self.nenter {
                    let k1 = indx2[k - 1];
                    temp1 += w(ws, k1, ipntr) * w(wy, k1, jpntr);
                }
                for k in self.ileave..=n {
                    let k1 = indx2[k - 1];
                    temp3 += w(ws, k1, ipntr) * w(wy, k1, jpntr);
                }
                if is <= jy + m {
                    wn1[at(m2, is, jy)] = wn1[at(m2, is, jy)] + temp1 - temp3;
                } else {
                    wn1[at(m2, is, jy)] = wn1[at(m2, is, jy)] - temp1 + temp3;
                }
                jpntr = jpntr % m + 1;
            }
            ipntr = ipntr % m + 1;
        }
        // The upper triangle of the 2col × 2col matrix K.
        for iy in 1..=col {
            let is = col + iy;
            let is1 = m + iy;
            for jy in 1..=iy {
                let js = col + jy;
                let js1 = m + jy;
                wn[at(m2, jy, iy)] = wn1[at(m2, iy, jy)] / theta;
                wn[at(m2, js, is)] = wn1[at(m2, is1, js1)] * theta;
            }
            for jy in 1..iy {
                wn[at(m2, jy, is)] = -wn1[at(m2, is1, jy)];
            }
            for jy in iy..=col {
                wn[at(m2, jy, is)] = wn1[at(m2, is1, jy)];
            }
            wn[at(m2, iy, iy)] += sy[at(m, iy, iy)];
        }
        // LEL^T: first the Cholesky factor of the upper-left block.
        if dpofa(wn, 0, m2, col) != 0 {
            return -1;
        }
        // L^-1 (-L_a' + R_z') in the upper-right block.
        let col2 = 2 * col;
        let mut b = vec![0.0; col];
        for js in col + 1..=col2 {
            let c = at(m2, 1, js);
            b.copy_from_slice(&wn[c..c + col]);
            dtrsl(wn, m2, col, &mut b, Trsl::UpperTransposed);
            wn[c..c + col].copy_from_slice(&b);
        }
        // The lower-right block: S'AA'S·theta + (L^-1(-L_a'+R_z'))'(L^-1(-L_a'+R_z')).
        for is in col + 1..=col2 {
            for js in is..=col2 {
                let (ci, cj) = (at(m2, 1, is), at(m2, 1, js));
                let dot = ddot(&wn[ci..ci + col], &wn[cj..cj + col]);
                wn[at(m2, is, js)] += dot;
            }
        }
        // Its Cholesky factor.
        if dpofa(wn, col, m2, col) != 0 {
            return -2;
        }
        0
    }

    /// `cmprlb`: the reduced gradient of the quadratic model at the Cauchy point, into
    /// `r(1..nfree)`. Returns `info`.
    fn cmprlb(&mut self) -> i32 {
        let (n, m, col, theta) = (self.n, self.m, self.col, self.theta);
        if !self.cnstnd && col > 0 {
            for i in 0..n {
                self.r[i] = -self.g[i];
            }
        } else {
            for i in 1..=self.nfree {
                let k = self.index[i - 1];
                self.r[i - 1] = -theta * (self.z[k] - self.x[k]) - self.g[k];
            }
            let (p, rest) = self.wa.split_at_mut(2 * m);
            if bmv(m, &self.sy, &self.wt, col, &rest[..2 * m], p) != 0 {
                return -8;
            }
            let mut pointr = self.head;
            for j in 1..=col {
                let a1 = self.wa[j - 1];
                let a2 = theta * self.wa[col + j - 1];
                for i in 1..=self.nfree {
                    let k = self.index[i - 1];
                    self.r[i - 1] = self.r[i - 1]
                        + self.wy[at(n, k + 1, pointr)] * a1
                        + self.ws[at(n, k + 1, pointr)] * a2;
                }
                pointr = pointr % m + 1;
            }
        }
        0
    }

    /// `subsm`: the subspace minimisation over the free variables, from the Cauchy point `z`
    /// with the reduced gradient `r`, projected onto the box and, if that is not a descent
    /// direction, backtracked (the 2011 revision). Returns `info`.
    fn subsm(&mut self) -> i32 {
        let (n, m, col, head, theta) = (self.n, self.m, self.col, self.head, self.theta);
        let nsub = self.nfree;
        if nsub == 0 {
            return 0;
        }
        let ind = &self.index;
        let (l, u, nbd) = (&self.l, &self.u, &self.nbd);
        let (ws, wy) = (&self.ws, &self.wy);
        let x = &mut self.z;
        let d = &mut self.r;
        let xp = &mut self.xp;
        let (xx, gg) = (&self.x, &self.g);
        let wv = &mut self.wa[..2 * m];
        // wv = W'Zd.
        let mut pointr = head;
        for i in 1..=col {
            let mut temp1 = 0.0;
            let mut temp2 = 0.0;
            for j in 1..=nsub {
                let k = ind[j - 1];
                temp1 += wy[at(n, k + 1, pointr)] * d[j - 1];
                temp2 += ws[at(n, k + 1, pointr)] * d[j - 1];
            }
            wv[i - 1] = temp1;
            wv[col + i - 1] = theta * temp2;
            pointr = pointr % m + 1;
        }
        // wv = K^(-1) wv.
        let m2 = 2 * m;
        let col2 = 2 * col;
        let info = dtrsl(&self.wn, m2, col2, &mut wv[..col2], Trsl::UpperTransposed);
        if info != 0 {
            return info;
        }
        for i in 0..col {
            wv[i] = -wv[i];
        }
        let info = dtrsl(&self.wn, m2, col2, &mut wv[..col2], Trsl::Upper);
        if info != 0 {
            return info;
        }
        // d = (1/theta)d + (1/theta**2)Z'W wv.
        let mut pointr = head;
        for jy in 1..=col {
            let js = col + jy;
            for i in 1..=nsub {
                let k = ind[i - 1];
                d[i - 1] = d[i - 1]
                    + wy[at(n, k + 1, pointr)] * wv[jy - 1] / theta
                    + ws[at(n, k + 1, pointr)] * wv[js - 1];
            }
            pointr = pointr % m + 1;
        }
        dscal(1.0 / theta, &mut d[..nsub]);

        // The projection of the subspace step.
        let mut iword = 0;
        xp.copy_from_slice(x);
        for i in 1..=nsub {
            let k = ind[i - 1];
            let dk = d[i - 1];
            let xk = x[k];
            if nbd[k] != 0 {
                if nbd[k] == 1 {
                    // Lower bounds only.
                    x[k] = l[k].max(xk + dk);
                    if x[k] == l[k] {
                        iword = 1;
                    }
                } else if nbd[k] == 2 {
                    // Upper and lower bounds.
                    let xk = l[k].max(xk + dk);
                    x[k] = u[k].min(xk);
                    if x[k] == l[k] || x[k] == u[k] {
                        iword = 1;
                    }
                } else if nbd[k] == 3 {
                    // Upper bounds only.
                    x[k] = u[k].min(xk + dk);
                    if x[k] == u[k] {
                        iword = 1;
                    }
                }
            } else {
                // Free variables.
                x[k] = xk + dk;
            }
        }
        if iword == 0 {
            return 0;
        }
        // Is the projected point a descent direction from the iterate?
        let mut dd_p = 0.0;
        for i in 0..n {
            dd_p += (x[i] - xx[i]) * gg[i];
        }
        if dd_p > 0.0 {
            x.copy_from_slice(xp);
        } else {
            return 0;
        }
        // Backtrack from the Cauchy point along d to the boundary.
        let mut alpha = 1.0f64;
        let mut temp1 = alpha;
        let mut ibd = 0usize;
        for i in 1..=nsub {
            let k = ind[i - 1];
            let dk = d[i - 1];
            if nbd[k] != 0 {
                if dk < 0.0 && nbd[k] <= 2 {
                    let temp2 = l[k] - x[k];
                    if temp2 >= 0.0 {
                        temp1 = 0.0;
                    } else if dk * alpha < temp2 {
                        temp1 = temp2 / dk;
                    }
                } else if dk > 0.0 && nbd[k] >= 2 {
                    let temp2 = u[k] - x[k];
                    if temp2 <= 0.0 {
                        temp1 = 0.0;
                    } else if dk * alpha > temp2 {
                        temp1 = temp2 / dk;
                    }
                }
                if temp1 < alpha {
                    alpha = temp1;
                    ibd = i;
                }
            }
        }
        if alpha < 1.0 {
            let dk = d[ibd - 1];
            let k = ind[ibd - 1];
            if dk > 0.0 {
                x[k] = u[k];
                d[ibd - 1] = 0.0;
            } else if dk < 0.0 {
                x[k] = l[k];
                d[ibd - 1] = 0.0;
            }
        }
        for i in 1..=nsub {
            let k = ind[i - 1];
            x[k] += alpha * d[i - 1];
        }
        0
    }

    /// `lnsrlb`: one step of the line search along `d` from `t` (the iterate); sets `task` to
    /// `FgLnsrch` with the next trial point in `x`, or to `NewX`.
    fn lnsrlb(&mut self) {
        const BIG: f64 = 1e10;
        let n = self.n;
        if self.task != Task::FgLnsrch {
            self.dtd = ddot(&self.d, &self.d);
            let dnorm = self.dtd.sqrt();
            // The largest feasible step.
            self.stpmx = BIG;
            if self.cnstnd {
                if self.iter == 0 {
                    self.stpmx = 1.0;
                } else {
                    for i in 0..n {
                        let a1 = self.d[i];
                        if self.nbd[i] != 0 {
                            if a1 < 0.0 && self.nbd[i] <= 2 {
                                let a2 = self.l[i] - self.x[i];
                                if a2 >= 0.0 {
                                    self.stpmx = 0.0;
                                } else if a1 * self.stpmx < a2 {
                                    self.stpmx = a2 / a1;
                                }
                            } else if a1 > 0.0 && self.nbd[i] >= 2 {
                                let a2 = self.u[i] - self.x[i];
                                if a2 <= 0.0 {
                                    self.stpmx = 0.0;
                                } else if a1 * self.stpmx > a2 {
                                    self.stpmx = a2 / a1;
                                }
                            }
                        }
                    }
                }
            }
            self.stp = if self.iter == 0 && !self.boxed {
                (1.0 / dnorm).min(self.stpmx)
            } else {
                1.0
            };
            self.t.copy_from_slice(&self.x);
            self.r.copy_from_slice(&self.g);
            self.fold = self.f;
            self.ifun = 0;
            self.iback = 0;
            self.search.task = SearchTask::Start;
        }
        // 556
        self.gd = ddot(&self.g, &self.d);
        if self.ifun == 0 {
            self.gdold = self.gd;
            if self.gd >= 0.0 {
                // The directional derivative is >= 0: the line search is impossible.
                self.info = -4;
                return;
            }
        }
        self.search.step(self.f, self.gd, &mut self.stp, self.stpmx);
        if !matches!(
            self.search.task,
            SearchTask::Convergence | SearchTask::Warning
        ) {
            self.task = Task::FgLnsrch;
            self.ifun += 1;
            self.iback = self.ifun - 1;
            if self.stp == 1.0 {
                self.x.copy_from_slice(&self.z);
            } else {
                for i in 0..n {
                    self.x[i] = self.stp * self.d[i] + self.t[i];
                    if self.nbd[i] == 1 || self.nbd[i] == 2 {
                        self.x[i] = self.x[i].max(self.l[i]);
                    }
                    if self.nbd[i] == 2 || self.nbd[i] == 3 {
                        self.x[i] = self.x[i].min(self.u[i]);
                    }
                }
            }
        } else {
            self.task = Task::NewX;
        }
    }

    /// `matupd`: stores the new correction pair and updates `sy` and `ss`.
    fn matupd(&mut self, rr: f64, dr: f64) {
        let (n, m) = (self.n, self.m);
        // The location of the new pair.
        if self.iupdat <= m {
            self.col = self.iupdat;
            self.itail = (self.head + self.iupdat - 2) % m + 1;
        } else {
            self.itail = self.itail % m + 1;
            self.head = self.head % m + 1;
        }
        let tail = at(n, 1, self.itail);
        self.ws[tail..tail + n].copy_from_slice(&self.d);
        self.wy[tail..tail + n].copy_from_slice(&self.r);
        // theta = yy / ys.
        self.theta = rr / dr;
        let col = self.col;
        // Shift the old parts of ss and sy if the memory was full.
        if self.iupdat > m {
            for j in 1..col {
                let src = at(m, 2, j + 1);
                self.ss.copy_within(src..src + j, at(m, 1, j));
                let src = at(m, j + 1, j + 1);
                self.sy.copy_within(src..src + col - j, at(m, j, j));
            }
        }
        // The new column of ss and row of sy.
        let mut pointr = self.head;
        for j in 1..col {
            let c = at(n, 1, pointr);
            self.sy[at(m, col, j)] = ddot(&self.d, &self.wy[c..c + n]);
            self.ss[at(m, j, col)] = ddot(&self.ws[c..c + n], &self.d);
            pointr = pointr % m + 1;
        }
        self.ss[at(m, col, col)] = if self.stp == 1.0 {
            self.dtd
        } else {
            self.stp * self.stp * self.dtd
        };
        self.sy[at(m, col, col)] = dr;
    }

    /// `formt`: the upper half of T = theta·SᵀS + L·D⁻¹·Lᵀ in `wt`, then its Cholesky factor.
    /// Returns `info`.
    fn formt(&mut self) -> i32 {
        let (m, col, theta) = (self.m, self.col, self.theta);
        let (sy, ss, wt) = (&self.sy, &self.ss, &mut self.wt);
        for j in 1..=col {
            wt[at(m, 1, j)] = theta * ss[at(m, 1, j)];
        }
        for i in 2..=col {
            for j in i..=col {
                let k1 = i.min(j) - 1;
                let mut ddum = 0.0;
                for k in 1..=k1 {
                    ddum += sy[at(m, i, k)] * sy[at(m, j, k)] / sy[at(m, k, k)];
                }
                wt[at(m, i, j)] = ddum + theta * ss[at(m, i, j)];
            }
        }
        if dpofa(wt, 0, m, col) != 0 { -3 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the solver on `f` to the end.
    fn minimise(x0: &[f64], settings: Settings, f: impl Fn(&[f64]) -> (f64, Vec<f64>)) -> BoxLbfgs {
        let mut solver = BoxLbfgs::new(x0, settings);
        while !solver.is_done() {
            let (v, g) = f(solver.point());
            solver.tell(v, &g);
            assert!(solver.evaluations() < 10_000, "no convergence");
        }
        solver
    }

    /// Minimises Σ wᵢ (xᵢ − cᵢ)² over [0, 1]ⁿ; the answer is cᵢ clipped to the box.
    #[test]
    fn solves_a_box_constrained_quadratic() {
        let c = [0.3, -0.5, 1.7, 0.9, 0.5];
        let w = [1.0, 10.0, 0.1, 100.0, 3.0];
        let settings = Settings {
            history: 5,
            max_iterations: 200,
            ..Settings::boxed(0.0, 1.0)
        };
        let solver = minimise(&[0.5; 5], settings, |x| {
            let f = x
                .iter()
                .zip(c.iter().zip(&w))
                .map(|(x, (c, w))| w * (x - c).powi(2))
                .sum();
            let g = x
                .iter()
                .zip(c.iter().zip(&w))
                .map(|(x, (c, w))| 2.0 * w * (x - c))
                .collect();
            (f, g)
        });
        assert!(solver.stop_reason().unwrap().converged());
        for (x, c) in solver.solution().iter().zip(c) {
            assert!((x - c.clamp(0.0, 1.0)).abs() < 1e-4, "{x} vs {c}");
        }
    }

    /// Rosenbrock with mixed bounds; the bounded minimum is known.
    #[test]
    fn solves_rosenbrock_with_mixed_bounds() {
        // Unconstrained minimum (1, 1, 1, 1); x₂ ≤ 0.5 moves it.
        let bounds = vec![
            Bound::Free,
            Bound::Upper(0.5),
            Bound::Lower(-1.0),
            Bound::Both(-2.0, 2.0),
        ];
        let settings = Settings {
            bounds: Bounds::PerVariable(bounds),
            ..Settings::default()
        };
        let solver = minimise(&[-1.2, 1.0, -1.2, 1.0], settings, |x| {
            let mut f = 0.0;
            let mut g = vec![0.0; x.len()];
            for i in 0..x.len() - 1 {
                let a = x[i + 1] - x[i] * x[i];
                let b = 1.0 - x[i];
                f += 100.0 * a * a + b * b;
                g[i] += -400.0 * x[i] * a - 2.0 * b;
                g[i + 1] += 200.0 * a;
            }
            (f, g)
        });
        assert!(solver.stop_reason().unwrap().converged());
        let x = solver.solution();
        assert!((x[1] - 0.5).abs() < 1e-9, "{x:?}");
        assert!(x.iter().all(|v| v.is_finite()));
    }

    /// `ddot` and `daxpy` give the very bits of scipy 1.14.1's OpenBLAS on x86-64 with
    /// AVX-512 (`scipy.linalg.blas.ddot` / `daxpy`), where a sequential sum does not.
    #[test]
    fn blas_rounds_like_scipys_openblas() {
        const SCALES: [f64; 7] = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3];
        let cases = [
            (15, 0x408e6535300eb25f_u64), // fused multiply-adds only
            (16, 0x408e657b293b11f2),     // 4 × 4 lanes
            (100, 0x4108079d88f9761e),    // 4 × 8 lanes, 4 × 4 lanes, the rest
            (784, 0x416a54a85e7f5be3),
        ];
        for (n, bits) in cases {
            let x: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 3.0)).collect();
            let y: Vec<f64> = (0..n)
                .map(|i| {
                    let v = i as f64;
                    (v * v - 7.0 * v + 3.0) / ((i % 5) as f64 + 2.0) * SCALES[i % 7]
                })
                .collect();
            let sequential = x.iter().zip(&y).fold(0.0, |s, (a, b)| s + a * b);
            assert_eq!(ddot(&x, &y).to_bits(), bits, "n = {n}");
            assert_ne!(sequential.to_bits(), bits, "n = {n}");
        }
        let (a, x, mut y) = (1.0 / 3.0, [1.0 / 7.0], [-(1.0 / 21.0) + 1e-3]);
        daxpy(a, &x, &mut y);
        assert_eq!(y[0].to_bits(), 0x3f50624dd2f1a9f4);
    }

    #[test]
    fn reports_bad_input() {
        let solver = BoxLbfgs::new(&[0.0; 3], Settings::boxed(1.0, 0.0));
        assert_eq!(
            solver.stop_reason(),
            Some(StopReason::Error(InputError::NoFeasibleSolution))
        );
        assert_eq!(solver.evaluations(), 0);
    }

    #[test]
    fn clips_the_start_and_evaluates_it_once() {
        let mut solver = BoxLbfgs::new(&[-3.0, 0.5, 9.0], Settings::boxed(0.0, 1.0));
        assert_eq!(solver.point(), &[0.0, 0.5, 1.0]);
        solver.tell(0.0, &[0.0; 3]);
        assert_eq!(solver.stop_reason(), Some(StopReason::ConvergedPgtol));
        assert_eq!((solver.evaluations(), solver.iterations()), (1, 0));
    }
}
