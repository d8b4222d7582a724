"""The maximal covering baseline: COIN-OR CBC (bundled with PyPI PuLP) on the very
coverage sets `xunfang bench place-posts --export-dir` wrote, one instance per JSON file.
Prints {"baseline": ..., "results": {"<instance>.k<k>.cbc.ms [ms]": ..., ...}}."""
import glob, json, os, sys, time
import pulp

def solve(weights, covers, k, limit):
    model = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(len(covers))]
    covered_by = [[] for _ in weights]
    for j, cover in enumerate(covers):
        for i in set(cover):
            covered_by[i].append(j)
    y = {i: pulp.LpVariable(f"y{i}", 0, 1) for i in range(len(weights)) if covered_by[i] and weights[i] > 0}
    model += pulp.lpSum(weights[i] * y[i] for i in y)
    for i, var in y.items():
        model += var <= pulp.lpSum(x[j] for j in covered_by[i])
    model += pulp.lpSum(x) == k
    started = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=0, timeLimit=limit))
    elapsed = (time.perf_counter() - started) * 1000
    proved = pulp.LpStatus[model.status] == "Optimal" and elapsed < limit * 1000
    return elapsed, pulp.value(model.objective) or 0.0, proved

results = {}
limit = float(sys.argv[2]) if len(sys.argv) > 2 else 60
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    instance = json.load(open(path))
    if "covers" not in instance:
        continue
    for k in instance["k"]:
        elapsed, value, proved = solve(instance["weights"], instance["covers"], k, limit)
        name = f"{instance['name']}.k{k}"
        results[f"{name}.cbc.ms [ms]"] = round(elapsed, 3)
        results[f"{name}.cbc.covered [weight]"] = value
        results[f"{name}.cbc.proved [0/1]"] = 1 if proved else 0
print(json.dumps({"baseline": "cbc (PuLP " + pulp.__version__ + ")", "results": results}))
