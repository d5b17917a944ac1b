//! The L-BFGS-B port against scipy: every problem of `tests/fixtures/lbfgsb-scipy.json.gz`
//! (made by `fidelity/scipy_lbfgsb_fixtures.py` with scipy 1.14.1's `fmin_l_bfgs_b`) is
//! replayed — the solver is told scipy's own f and g at each point it asks for, and each point
//! must be the one scipy asked for; at the end the solution, the iterations, the evaluations
//! and the stop reason must be scipy's. Points are compared at 1e-6 relative (with a floor of
//! 1e-12 absolute near zero); f and g reach the solver bit-exact. The test also counts the
//! points that are bit-exact (all of them with the port as it is; the 784-pixel problems store
//! their points as float32 and a digest of the exact float64 bytes).
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

use std::io::Read;

use sha2::{Digest, Sha256};

use advdrop::attack::lbfgsb::{Bound, Bounds, BoxLbfgs, Settings};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/lbfgsb-scipy.json.gz"
);
/// Largest relative difference allowed between a point of the solver and scipy's.
const RELATIVE: f64 = 1e-6;
/// Scale below which differences count as absolute (`RELATIVE · FLOOR` = 1e-12).
const FLOOR: f64 = 1e-6;

/// One recorded run of scipy.
struct Problem {
    name: String,
    n: usize,
    settings: Settings,
    x0: Vec<f64>,
    /// The x of each evaluation, in order (k·n).
    requests: Vec<f64>,
    /// Where `requests` were stored as float32: a digest of each exact request.
    request_sha256: Option<Vec<String>>,
    f: Vec<f64>,
    g: Vec<f64>,
    /// Evaluations made when each iterate was reached (scipy's callback).
    iterates: Vec<usize>,
    x: Vec<f64>,
    nit: usize,
    nfev: usize,
    task: String,
}

/// `"f64:HEX"` / `"f32:HEX"`: little-endian bytes.
fn decode(s: &str) -> Vec<f64> {
    let (kind, hex) = s.split_once(':').expect("dtype:hex");
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect();
    match kind {
        "f64" => bytes
            .chunks(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        "f32" => bytes
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        other => panic!("unknown dtype {other}"),
    }
}

fn load() -> Vec<Problem> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(FIXTURE).expect(FIXTURE))
        .read_to_string(&mut text)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let array = |key: &str| decode(p[key].as_str().unwrap());
            let scalar = |key: &str| array(key)[0];
            let int = |key: &str| p[key].as_u64().unwrap() as usize;
            let bounds: Vec<Bound> = array("lower")
                .into_iter()
                .zip(array("upper"))
                .map(|(l, u)| Bound::new(l, u))
                .collect();
            // One bound for all: the uniform form (the attack's), else one per variable.
            let bounds = if bounds.iter().all(|b| *b == bounds[0]) {
                Bounds::Uniform(bounds[0])
            } else {
                Bounds::PerVariable(bounds)
            };
            Problem {
                name: p["name"].as_str().unwrap().to_string(),
                n: int("n"),
                settings: Settings {
                    bounds,
                    history: int("m"),
                    factr: scalar("factr"),
                    pgtol: scalar("pgtol"),
                    max_iterations: int("maxiter"),
                    max_evaluations: int("maxfun"),
                    max_line_search: int("maxls"),
                },
                x0: array("x0"),
                requests: array("requests"),
                request_sha256: p["request_sha256"]
                    .as_array()
                    .map(|v| v.iter().map(|h| h.as_str().unwrap().to_string()).collect()),
                f: array("f"),
                g: array("g"),
                iterates: p["iterates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                x: array("x"),
                nit: int("nit"),
                nfev: int("nfev"),
                task: p["task"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// The largest relative difference of two points (absolute below `FLOOR`).
fn deviation(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&a, &b)| {
            if a == b {
                0.0
            } else {
                (a - b).abs() / a.abs().max(b.abs()).max(FLOOR)
            }
        })
        .fold(0.0, f64::max)
}

/// The first 16 hex digits of the SHA-256 of a point's float64 little-endian bytes.
fn digest(x: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in x {
        h.update(v.to_le_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replays one run; returns the largest deviation of the solver's points from scipy's and the
/// number of points that were bit-exact.
fn replay(p: &Problem) -> (f64, usize) {
    let n = p.n;
    let k = p.f.len();
    assert_eq!(p.requests.len(), k * n, "{}", p.name);
    assert_eq!(p.g.len(), k * n, "{}", p.name);
    let mut worst = 0.0f64;
    let mut check = |what: String, ours: &[f64], theirs: &[f64]| {
        let dev = deviation(ours, theirs);
        assert!(
            dev <= RELATIVE,
            "{}: {what} differs from scipy's by {dev:e} (relative)\n ours:   {:?}\n scipy's: {:?}",
            p.name,
            &ours[..n.min(8)],
            &theirs[..n.min(8)],
        );
        worst = worst.max(dev);
    };
    let mut exact = 0;
    let mut solver = BoxLbfgs::new(&p.x0, p.settings.clone());
    for e in 0..k {
        assert!(
            !solver.is_done(),
            "{}: stopped ({:?}) after {e} evaluations, scipy made {k}",
            p.name,
            solver.stop_reason()
        );
        let row = e * n..(e + 1) * n;
        check(
            format!("evaluation {}", e + 1),
            solver.point(),
            &p.requests[row.clone()],
        );
        exact += usize::from(match &p.request_sha256 {
            Some(digests) => digest(solver.point()) == digests[e],
            None => solver.point() == &p.requests[row.clone()],
        });
        solver.tell(p.f[e], &p.g[row]);
        assert_eq!(solver.evaluations(), e + 1, "{}", p.name);
        let reached = p.iterates.iter().filter(|&&c| c <= e + 1).count();
        assert_eq!(
            solver.iterations(),
            reached,
            "{}: iterations after evaluation {}",
            p.name,
            e + 1
        );
    }
    assert!(
        solver.is_done(),
        "{}: wants evaluation {} ({:?}), scipy stopped at {k} with {}",
        p.name,
        k + 1,
        &solver.point()[..n.min(8)],
        p.task
    );
    check("the solution".into(), solver.solution(), &p.x);
    assert_eq!(solver.iterations(), p.nit, "{}: iterations", p.name);
    assert_eq!(solver.evaluations(), p.nfev, "{}: evaluations", p.name);
    assert_eq!(
        solver.stop_reason().unwrap().message(),
        p.task,
        "{}: stop reason",
        p.name
    );
    (worst, exact)
}

#[test]
fn replays_scipy_fmin_l_bfgs_b() {
    let problems = load();
    assert!(problems.len() >= 20, "{} problems", problems.len());
    let (mut worst, mut exact, mut points) = (0.0f64, 0, 0);
    for p in &problems {
        let (dev, bits) = replay(p);
        eprintln!(
            "{:34} n={:4} nit={:4} nfev={:4} max relative deviation {dev:.1e}, \
             bit-exact points {bits}/{}",
            p.name, p.n, p.nit, p.nfev, p.nfev
        );
        worst = worst.max(dev);
        exact += bits;
        points += p.nfev;
    }
    eprintln!(
        "{} problems: max relative deviation {worst:.1e}, {exact} of {points} points bit-exact",
        problems.len()
    );
}
