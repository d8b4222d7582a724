internal import CGLPK
import Dispatch
import Synchronization
public import XunfangGeo

/// Proves post placements optimal: the maximal covering model as a mixed-integer program,
/// solved by GLPK's branch-and-bound (Debian's libglpk) through its C API.
///
///     maximise  sum w_g y_g            over the reduced instance's demand groups g
///     subject to y_g <= sum x_j        over the sites j that cover g
///                sum x_j = k,  x_j in {0, 1},  0 <= y_g <= 1
///
/// It starts from the fast solver's answer (given to GLPK as its first incumbent) so a time
/// limit still returns at least that answer, with GLPK's best bound beside it.
public enum ExactPostPlacement {
    /// GLPK keeps per-thread state and is not documented as re-entrant: one solve at a
    /// time; a second one is refused (`.busy`) rather than queued behind a long search.
    private static let solving = Atomic<Bool>(false)

    /// Solves `placement` for `k` sites within `timeLimit`, starting from `start` (the fast
    /// solver's answer for the same k).
    public static func solve(_ placement: PostPlacement, k: Int, timeLimit: Duration,
                             start: PostPlacement.Solution) throws(GeoError) -> PostPlacement.Solution {
        let reduced = placement.reduced
        let k = min(k, reduced.siteGroups.count)
        guard !start.optimal, k > 0, !reduced.groupWeights.isEmpty else { return start }
        guard solving.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw GeoError(.busy, "another exact post placement is running; try again when it ends")
        }
        defer { solving.store(false, ordering: .releasing) }
        let fixed = fixing(reduced, k: k, multipliers: start.multipliers, incumbent: reduced.coveredWeight(start.sites))
        let restricted = restrict(reduced, open: fixed.open, free: fixed.free)
        // The start, when the fixing keeps it, is GLPK's first incumbent; otherwise it is beaten or optimal.
        let startInside = inside(start.sites, fixed: fixed)
        // Beside GLPK's search, a local search looks for better answers: each one that keeps
        // the fixing is offered to GLPK (a better incumbent prunes more), and it ends GLPK's
        // search when it meets the bound.
        let deadline = ContinuousClock.now + timeLimit
        let local = LocalSearch(reduced, k: k, from: start, fixed: fixed, deadline: deadline)
        let outcome: (sites: [Int], bound: Double, proved: Bool)
        do {
            defer { local.finish() }
            outcome = try branchAndBound(restricted, k: k - fixed.open.count, deadline: deadline, start: startInside, local: local)
        }
        let found = fixed.open + outcome.sites.map { fixed.free[$0] }
        let candidates = [found.count == k ? found : [], local.best.withLock { $0?.sites } ?? [], start.sites].filter { $0.count == k }
        let sites = candidates.max { placement.coveredWeight($0) < placement.coveredWeight($1) } ?? start.sites
        let covered = placement.coveredWeight(sites)
        let bound = max(covered, min(start.upperBound, reduced.attainable(outcome.bound)))
        return PostPlacement.Solution(sites: sites, coveredWeight: covered, totalWeight: start.totalWeight,
                                      optimal: outcome.proved || covered >= bound - 1e-9 * max(1, bound), upperBound: outcome.proved ? covered : bound)
    }

    /// The sites worth swapping in: the 4k with the largest Lagrangian scores (all when
    /// there are no multipliers).
    static func promising(_ reduced: PostPlacement.Reduced, k: Int, multipliers: [Double]) -> [Int]? {
        guard multipliers.count == reduced.groupWeights.count else { return nil }
        let scores = reduced.siteGroups.map { $0.reduce(0.0) { $0 + multipliers[Int($1)] } }
        return Array(scores.indices.sorted { scores[$0] > scores[$1] }.prefix(4 * k))
    }

    /// Lagrangian fixing. With multipliers u, L(u) bounds the optimum; forcing a site the
    /// relaxation leaves out into the answer lowers that bound by at least the k-th largest
    /// site score minus its own, and forcing a chosen one out by its score minus the
    /// (k+1)-th. A site whose forced state cannot beat `incumbent` keeps its relaxed state in
    /// every better answer: fixed open, or dropped.
    static func fixing(_ reduced: PostPlacement.Reduced, k: Int, multipliers: [Double], incumbent: Double) -> (open: [Int], free: [Int]) {
        let sites = Array(reduced.siteGroups.indices)
        guard multipliers.count == reduced.groupWeights.count, k < sites.count else { return ([], sites) }
        let scores = reduced.siteGroups.map { $0.reduce(0.0) { $0 + multipliers[Int($1)] } }
        let order = sites.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let bound = reduced.fixedWeight + zip(reduced.groupWeights, multipliers).reduce(0.0) { $0 + $1.0 - $1.1 }
            + order.prefix(k).reduce(0.0) { $0 + scores[$1] }
        let kth = scores[order[k - 1]], next = scores[order[k]]
        // A better answer covers at least the incumbent plus 1 (whole weights) or plus a hair.
        let needed = incumbent + (reduced.integral ? 1 - 1e-6 : 1e-9 * max(1, incumbent))
        var open: [Int] = [], free: [Int] = []
        for (rank, site) in order.enumerated() {
            if rank < k {
                if bound - scores[site] + next < needed { open.append(site) } else { free.append(site) }
            } else if bound - kth + scores[site] >= needed {
                free.append(site)
            }
        }
        return (open.sorted(), free.sorted())
    }

    /// The instance left once `open` sites are in the answer and only `free` ones may join:
    /// what the open sites cover counts as fixed, groups no free site covers drop out, and
    /// groups the same free sites cover merge again.
    static func restrict(_ reduced: PostPlacement.Reduced, open: [Int], free: [Int]) -> PostPlacement.Reduced {
        var coveredByOpen = [Bool](repeating: false, count: reduced.groupWeights.count)
        for site in open { for group in reduced.siteGroups[site] { coveredByOpen[Int(group)] = true } }
        let fixedWeight = reduced.fixedWeight + zip(reduced.groupWeights, coveredByOpen).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) }
        var profiles = [[Int32]](repeating: [], count: reduced.groupWeights.count)
        for (index, site) in free.enumerated() {
            for group in reduced.siteGroups[site] where !coveredByOpen[Int(group)] { profiles[Int(group)].append(Int32(index)) }
        }
        var merged: [[Int32]: Int32] = [:]
        var weights: [Double] = []
        var siteGroups = [[Int32]](repeating: [], count: free.count)
        for (group, profile) in profiles.enumerated() where !profile.isEmpty {
            if let existing = merged[profile] {
                weights[Int(existing)] += reduced.groupWeights[group]
                continue
            }
            let id = Int32(weights.count)
            merged[profile] = id
            weights.append(reduced.groupWeights[group])
            for site in profile { siteGroups[Int(site)].append(id) }
        }
        return PostPlacement.Reduced(groupWeights: weights, siteGroups: siteGroups, fixedWeight: fixedWeight, integral: reduced.integral)
    }

    /// `sites` as the restricted instance's sites, when they keep the fixing (empty otherwise).
    static func inside(_ sites: [Int], fixed: (open: [Int], free: [Int])) -> [Int] {
        guard Set(fixed.open).isSubset(of: sites) else { return [] }
        let position = Dictionary(uniqueKeysWithValues: fixed.free.enumerated().map { ($1, $0) })
        let inside = sites.compactMap { position[$0] }
        return inside.count == sites.count - fixed.open.count ? inside : []
    }

    /// An iterated local search on a thread of its own, beside GLPK: its best so far
    /// (whole-instance sites, their weight, and the same as the restricted instance's sites
    /// when it keeps the fixing), and when to stop it.
    final class LocalSearch: Sendable {
        let target: Double
        let best = Mutex<(sites: [Int], value: Double, inside: [Int]?)?>(nil)
        let stopped = Atomic<Bool>(false)
        private let running = DispatchGroup()

        init(_ reduced: PostPlacement.Reduced, k: Int, from start: PostPlacement.Solution, fixed: (open: [Int], free: [Int]), deadline: ContinuousClock.Instant) {
            target = start.upperBound
            DispatchQueue.global().async(group: running) { [self] in
                _ = reduced.iteratedLocalSearch(start.sites, target: target, entering: ExactPostPlacement.promising(reduced, k: k, multipliers: start.multipliers),
                                                stop: { stopped.load(ordering: .relaxed) || ContinuousClock.now >= deadline }) { sites, value in
                    let inside = ExactPostPlacement.inside(sites, fixed: fixed)
                    best.withLock { $0 = (sites, value, inside.isEmpty ? nil : inside) }
                }
            }
        }

        /// Stops the search and waits for it.
        func finish() {
            stopped.store(true, ordering: .relaxed)
            running.wait()
        }

        /// Its best meets the bound: nothing better exists.
        var metTarget: Bool { best.withLock { $0.map { $0.value >= target - 1e-9 } ?? false } }
    }

    /// What the callback sees while GLPK searches.
    private final class Search {
        let reduced: PostPlacement.Reduced
        let model: Model
        let local: LocalSearch
        /// The fast answer (restricted sites), offered first.
        let start: [Int]
        var offered = -Double.infinity
        var bound = Double.infinity
        init(reduced: PostPlacement.Reduced, model: Model, local: LocalSearch, start: [Int]) {
            self.reduced = reduced
            self.model = model
            self.local = local
            self.start = start
        }

        /// At a heuristic point: the fast answer first, then each better one the local search
        /// found, as GLPK's column values.
        func offer() -> [Double]? {
            let newest = local.best.withLock { $0 }
            if let newest, let inside = newest.inside, newest.value > offered {
                offered = newest.value
                return startingPoint(reduced, model, inside)
            }
            guard offered == -.infinity, !start.isEmpty else { return nil }
            offered = reduced.coveredWeight(start)
            return startingPoint(reduced, model, start)
        }
    }

    private static func branchAndBound(_ reduced: PostPlacement.Reduced, k: Int, deadline: ContinuousClock.Instant,
                                       start: [Int], local: LocalSearch) throws(GeoError) -> (sites: [Int], bound: Double, proved: Bool) {
        let sites = reduced.siteGroups.count
        // Nothing left to choose: the fixed sites are the answer (or nothing better exists).
        guard k > 0, sites >= k, !reduced.groupWeights.isEmpty else {
            return (Array(0..<min(max(k, 0), sites)), reduced.fixedWeight + reduced.groupWeights.reduce(0, +), true)
        }
        let model = Model(reduced)
        let groups = model.shared.count
        glp_term_out(GLP_OFF)
        guard let problem = glp_create_prob() else { throw GeoError(.invalidInput, "GLPK could not create a problem") }
        defer { glp_delete_prob(problem) }
        glp_set_obj_dir(problem, GLP_MAX)
        glp_set_obj_coef(problem, 0, reduced.fixedWeight)
        glp_add_cols(problem, Int32(sites + groups))
        for site in 1...sites {
            glp_set_col_kind(problem, Int32(site), GLP_BV)
            glp_set_obj_coef(problem, Int32(site), model.own[site - 1])
        }
        for (index, group) in model.shared.enumerated() {
            let column = Int32(sites + index + 1)
            glp_set_col_bnds(problem, column, GLP_DB, 0, 1)
            glp_set_obj_coef(problem, column, reduced.groupWeights[group])
        }
        glp_add_rows(problem, Int32(groups + 1))
        for row in 0..<groups { glp_set_row_bnds(problem, Int32(row + 1), GLP_UP, 0, 0) }
        glp_set_row_bnds(problem, Int32(groups + 1), GLP_FX, Double(k), Double(k))
        // The matrix as (row, column, value) triples, 1-based with a dummy first entry.
        var rows: [Int32] = [0], columns: [Int32] = [0], values: [Double] = [0]
        for row in 0..<groups { rows.append(Int32(row + 1)); columns.append(Int32(sites + row + 1)); values.append(1) }
        for (site, covered) in reduced.siteGroups.enumerated() {
            for group in covered {
                let row = model.row[Int(group)]
                guard row >= 0 else { continue }
                rows.append(row + 1); columns.append(Int32(site + 1)); values.append(-1)
            }
            rows.append(Int32(groups + 1)); columns.append(Int32(site + 1)); values.append(1)
        }
        glp_load_matrix(problem, Int32(rows.count - 1), rows, columns, values)

        var simplex = glp_smcp()
        glp_init_smcp(&simplex)
        simplex.msg_lev = GLP_MSG_OFF
        simplex.tm_lim = milliseconds(deadline - ContinuousClock.now)
        glp_adv_basis(problem, 0)
        guard glp_simplex(problem, &simplex) == 0, glp_get_status(problem) == GLP_OPT else {
            return ([], .infinity, false)
        }
        let relaxation = glp_get_obj_val(problem)
        // The root relaxation can take seconds on a dense instance, and the local search may
        // have met the bound meanwhile.
        if local.metTarget { return ([], relaxation, false) }
        let search = Search(reduced: reduced, model: model, local: local, start: start)
        var parameters = glp_iocp()
        glp_init_iocp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.tm_lim = milliseconds(deadline - ContinuousClock.now)
        // Most fractional, not pseudocosts: their set-up strong-branches every fractional site
        // at the root without looking at the time limit (46 s under a 20 s limit on a dense
        // county instance), and they were slower on the sparse ones too (16 s against 8 s).
        parameters.br_tech = GLP_BR_MFV
        parameters.bt_tech = GLP_BT_BLB
        // Whole-number weights: a gap below 1 proves the incumbent optimal.
        let total = reduced.fixedWeight + reduced.groupWeights.reduce(0, +)
        parameters.mip_gap = reduced.integral && total > 0 ? 0.99 / total : 0
        parameters.cb_info = Unmanaged.passUnretained(search).toOpaque()
        parameters.cb_func = { tree, info in
            guard let tree, let info else { return }
            let search = Unmanaged<Search>.fromOpaque(info).takeUnretainedValue()
            if search.local.metTarget {
                glp_ios_terminate(tree)
                return
            }
            if glp_ios_reason(tree) == GLP_IHEUR, let values = search.offer() {
                _ = values.withUnsafeBufferPointer { glp_ios_heur_sol(tree, $0.baseAddress) }
            }
            let best = glp_ios_best_node(tree)
            if best != 0 { search.bound = glp_ios_node_bound(tree, best) }
        }
        let status = withExtendedLifetime(search) { glp_intopt(problem, &parameters) }
        guard [0, GLP_ETMLIM, GLP_EMIPGAP, GLP_ESTOP].contains(status), [GLP_OPT, GLP_FEAS].contains(glp_mip_status(problem)) else {
            return ([], relaxation, false)
        }
        let chosen = (1...sites).filter { glp_mip_col_val(problem, Int32($0)) > 0.5 }.map { $0 - 1 }
        // Stopping at the gap tolerance proves optimality only for whole-number weights (set so above).
        let proved = (status == 0 && glp_mip_status(problem) == GLP_OPT) || status == GLP_EMIPGAP
        return (chosen, min(relaxation, search.bound), proved)
    }

    /// The program's shape: a group only one site covers is covered exactly when that site
    /// is chosen, so its weight goes on the site's own column and it needs no row of its own.
    struct Model {
        /// Weight of the groups each site alone covers.
        var own: [Double]
        /// The groups that keep a row (and a column y_g), in row order.
        var shared: [Int] = []
        /// Each group's row, or -1 when a site's column carries it.
        var row: [Int32]

        init(_ reduced: PostPlacement.Reduced) {
            own = [Double](repeating: 0, count: reduced.siteGroups.count)
            row = [Int32](repeating: -1, count: reduced.groupWeights.count)
            for (group, coverers) in reduced.siteCoverers.enumerated() {
                if coverers.count == 1 {
                    own[Int(coverers[0])] += reduced.groupWeights[group]
                } else if coverers.count > 1 {
                    row[group] = Int32(shared.count)
                    shared.append(group)
                }
            }
        }
    }

    /// The start as GLPK's column values (1-based): the chosen sites and the shared groups they cover.
    private static func startingPoint(_ reduced: PostPlacement.Reduced, _ model: Model, _ start: [Int]) -> [Double] {
        let sites = reduced.siteGroups.count
        var values = [Double](repeating: 0, count: 1 + sites + model.shared.count)
        for site in start {
            values[site + 1] = 1
            for group in reduced.siteGroups[site] where model.row[Int(group)] >= 0 { values[sites + Int(model.row[Int(group)]) + 1] = 1 }
        }
        return values
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
    }
}
