"""The maximal covering baselines: COIN-OR CBC (bundled with PyPI PuLP) or HiGHS (SciPy's
milp) on the very coverage sets `xunfang bench place-posts --export-dir` wrote, one instance
per JSON file, both given the same model: y_i <= sum of x_j over the sites j covering demand
i, sum of x_j = k, maximise the covered weight.
Usage: mclp_baseline.py cbc|highs DIR [LIMIT_S]
Prints {"baseline": ..., "results": {"<instance>.k<k>.<solver>.ms [ms]": ..., ...}}."""
import glob, json, os, sys, time

def coverers(weights, covers):
    covered_by = [[] for _ in weights]
    for j, cover in enumerate(covers):
        for i in set(cover):
            covered_by[i].append(j)
    return covered_by, [i for i in range(len(weights)) if covered_by[i] and weights[i] > 0]

def solve_cbc(weights, covers, k, limit):
    import pulp
    covered_by, demands = coverers(weights, covers)
    model = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(len(covers))]
    y = {i: pulp.LpVariable(f"y{i}", 0, 1) for i in demands}
    model += pulp.lpSum(weights[i] * y[i] for i in y)
    for i, var in y.items():
        model += var <= pulp.lpSum(x[j] for j in covered_by[i])
    model += pulp.lpSum(x) == k
    started = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=0, timeLimit=limit))
    elapsed = (time.perf_counter() - started) * 1000
    # PuLP says "Optimal" for a search stopped at the time limit too.
    proved = pulp.LpStatus[model.status] == "Optimal" and elapsed < limit * 1000
    return elapsed, pulp.value(model.objective) or 0.0, proved

def solve_highs(weights, covers, k, limit):
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix
    covered_by, demands = coverers(weights, covers)
    sites = len(covers)
    # Columns: x_j for the sites, then y_i for the demands; rows: y_i - sum x_j <= 0, then sum x_j = k.
    rows, cols, vals = [], [], []
    for row, i in enumerate(demands):
        rows.append(row); cols.append(sites + row); vals.append(1)
        for j in covered_by[i]:
            rows.append(row); cols.append(j); vals.append(-1)
    rows += [len(demands)] * sites; cols += list(range(sites)); vals += [1] * sites
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(demands) + 1, sites + len(demands))).tocsr()
    lower = np.full(len(demands) + 1, -np.inf); upper = np.zeros(len(demands) + 1)
    lower[-1] = upper[-1] = k
    cost = np.concatenate([np.zeros(sites), -np.array([weights[i] for i in demands], dtype=float)])
    started = time.perf_counter()
    result = milp(cost, constraints=LinearConstraint(matrix, lower, upper), bounds=Bounds(0, 1),
                  integrality=np.concatenate([np.ones(sites), np.zeros(len(demands))]), options={"time_limit": limit})
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, -result.fun if result.fun is not None else 0.0, result.status == 0

def version(solver):
    if solver == "cbc":
        import pulp
        return "cbc (PuLP " + pulp.__version__ + ")"
    import scipy
    return "highs (SciPy " + scipy.__version__ + ")"

solver = sys.argv[1]
solve = {"cbc": solve_cbc, "highs": solve_highs}[solver]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 60
results = {}
for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.json"))):
    instance = json.load(open(path))
    if "covers" not in instance:
        continue
    for k in instance["k"]:
        elapsed, value, proved = solve(instance["weights"], instance["covers"], k, limit)
        name = f"{instance['name']}.k{k}"
        results[f"{name}.{solver}.ms [ms]"] = round(elapsed, 3)
        results[f"{name}.{solver}.covered [weight]"] = round(value, 6)
        results[f"{name}.{solver}.proved [0/1]"] = 1 if proved else 0
print(json.dumps({"baseline": version(solver), "results": results}))
