internal import CGLPK
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
    /// GLPK keeps per-thread state and is not documented as re-entrant: one solve at a time.
    private static let solving = Mutex(())

    /// Solves `placement` for `k` sites within `timeLimit`, starting from `start` (the fast
    /// solver's answer for the same k).
    public static func solve(_ placement: PostPlacement, k: Int, timeLimit: Duration,
                             start: PostPlacement.Solution) throws(GeoError) -> PostPlacement.Solution {
        let reduced = placement.reduced
        let k = min(k, reduced.siteGroups.count)
        guard !start.optimal, k > 0, !reduced.groupWeights.isEmpty else { return start }
        let outcome = try solving.withLock { _ throws(GeoError) in
            try branchAndBound(reduced, k: k, timeLimit: timeLimit, start: start.sites)
        }
        let sites = outcome.sites.count == k ? outcome.sites : start.sites
        let covered = placement.coveredWeight(sites)
        guard covered >= start.coveredWeight else { return start }
        let bound = max(covered, min(start.upperBound, reduced.attainable(outcome.bound)))
        return PostPlacement.Solution(sites: sites, coveredWeight: covered, totalWeight: start.totalWeight,
                                      optimal: outcome.proved || covered >= bound - 1e-9 * max(1, bound), upperBound: outcome.proved ? covered : bound)
    }

    /// What the callback sees while GLPK searches.
    private final class Search {
        let start: [Double]
        var offered = false
        var bound = Double.infinity
        init(start: [Double]) { self.start = start }
    }

    private static func branchAndBound(_ reduced: PostPlacement.Reduced, k: Int, timeLimit: Duration,
                                       start: [Int]) throws(GeoError) -> (sites: [Int], bound: Double, proved: Bool) {
        let sites = reduced.siteGroups.count, groups = reduced.groupWeights.count
        glp_term_out(GLP_OFF)
        guard let problem = glp_create_prob() else { throw GeoError(.invalidInput, "GLPK could not create a problem") }
        defer { glp_delete_prob(problem) }
        glp_set_obj_dir(problem, GLP_MAX)
        glp_set_obj_coef(problem, 0, reduced.fixedWeight)
        glp_add_cols(problem, Int32(sites + groups))
        for site in 1...sites { glp_set_col_kind(problem, Int32(site), GLP_BV) }
        for group in 0..<groups {
            let column = Int32(sites + group + 1)
            glp_set_col_bnds(problem, column, GLP_DB, 0, 1)
            glp_set_obj_coef(problem, column, reduced.groupWeights[group])
        }
        glp_add_rows(problem, Int32(groups + 1))
        for group in 1...groups { glp_set_row_bnds(problem, Int32(group), GLP_UP, 0, 0) }
        glp_set_row_bnds(problem, Int32(groups + 1), GLP_FX, Double(k), Double(k))
        // The matrix as (row, column, value) triples, 1-based with a dummy first entry.
        var rows: [Int32] = [0], columns: [Int32] = [0], values: [Double] = [0]
        for group in 0..<groups { rows.append(Int32(group + 1)); columns.append(Int32(sites + group + 1)); values.append(1) }
        for (site, covered) in reduced.siteGroups.enumerated() {
            for group in covered { rows.append(group + 1); columns.append(Int32(site + 1)); values.append(-1) }
            rows.append(Int32(groups + 1)); columns.append(Int32(site + 1)); values.append(1)
        }
        glp_load_matrix(problem, Int32(rows.count - 1), rows, columns, values)

        var simplex = glp_smcp()
        glp_init_smcp(&simplex)
        simplex.msg_lev = GLP_MSG_OFF
        simplex.tm_lim = milliseconds(timeLimit)
        glp_adv_basis(problem, 0)
        guard glp_simplex(problem, &simplex) == 0, glp_get_status(problem) == GLP_OPT else {
            return (start, .infinity, false)
        }
        let relaxation = glp_get_obj_val(problem)

        let search = Search(start: startingPoint(reduced, start))
        var parameters = glp_iocp()
        glp_init_iocp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.tm_lim = milliseconds(timeLimit)
        parameters.br_tech = GLP_BR_PCH
        parameters.bt_tech = GLP_BT_BLB
        // Whole-number weights: a gap below 1 proves the incumbent optimal.
        let total = reduced.fixedWeight + reduced.groupWeights.reduce(0, +)
        parameters.mip_gap = reduced.integral && total > 0 ? 0.99 / total : 0
        parameters.cb_info = Unmanaged.passUnretained(search).toOpaque()
        parameters.cb_func = { tree, info in
            guard let tree, let info else { return }
            let search = Unmanaged<Search>.fromOpaque(info).takeUnretainedValue()
            if glp_ios_reason(tree) == GLP_IHEUR, !search.offered {
                search.offered = true
                _ = search.start.withUnsafeBufferPointer { glp_ios_heur_sol(tree, $0.baseAddress) }
            }
            let best = glp_ios_best_node(tree)
            if best != 0 { search.bound = glp_ios_node_bound(tree, best) }
        }
        let status = withExtendedLifetime(search) { glp_intopt(problem, &parameters) }
        guard [0, GLP_ETMLIM, GLP_EMIPGAP].contains(status), [GLP_OPT, GLP_FEAS].contains(glp_mip_status(problem)) else {
            return (start, relaxation, false)
        }
        let chosen = (1...sites).filter { glp_mip_col_val(problem, Int32($0)) > 0.5 }.map { $0 - 1 }
        // Stopping at the gap tolerance proves optimality only for whole-number weights (set so above).
        let proved = (status == 0 && glp_mip_status(problem) == GLP_OPT) || status == GLP_EMIPGAP
        return (chosen, min(relaxation, search.bound), proved)
    }

    /// The start as GLPK's column values (1-based): the chosen sites and what they cover.
    private static func startingPoint(_ reduced: PostPlacement.Reduced, _ start: [Int]) -> [Double] {
        let sites = reduced.siteGroups.count
        var values = [Double](repeating: 0, count: 1 + sites + reduced.groupWeights.count)
        for site in start {
            values[site + 1] = 1
            for group in reduced.siteGroups[site] { values[sites + Int(group) + 1] = 1 }
        }
        return values
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
    }
}
