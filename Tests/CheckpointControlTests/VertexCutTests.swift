@testable import CheckpointControlPlugin
import Testing
import XunfangGeo

@Suite("Minimum vertex cuts and their flow paths")
struct VertexCutTests {
    @Test("on random graphs a maximum flow comes apart into as many paths as the cut has nodes, no cuttable node on two, each crossing the cut once")
    func pathsOfAFlow() {
        var random = SyntheticRoads.Generator(state: 7)
        var checked = 0
        for round in 0..<200 {
            let n = 4 + Int(random.next() % 14)
            var arcs: [(Int, Int)] = []
            for a in 0..<n {
                for b in 0..<n where a != b && random.next() % 100 < 25 { arcs.append((a, b)) }
            }
            let sinks = (1..<n).filter { _ in random.next() % 4 == 0 }
            let cuttable = (0..<n).map { _ in random.next() % 5 != 0 }
            let network = VertexCutNetwork(nodeCount: n, arcs: arcs, sinks: sinks)
            var flow = network.flow(from: 0, cuttable: cuttable)
            guard case .cut(let cut) = network.minimumCut(&flow) else { continue }
            checked += 1
            let paths = network.pathNodes(flow)
            #expect(paths.count == cut.count, "round \(round)")
            let all = paths.joined()
            #expect(Set(all).count == all.count, "round \(round): a cuttable node on two paths")
            let cutSet = Set(cut)
            for path in paths {
                #expect(path.filter(cutSet.contains).count == 1, "round \(round): \(path) against the cut \(cut)")
                #expect(path.allSatisfy { cuttable[$0] && $0 != 0 }, "round \(round)")
            }
        }
        #expect(checked > 100, "enough separable rounds to mean something: \(checked)")
    }
}

@Suite("The branch and bound's queue")
struct BranchQueueTests {
    @Test("pops the lowest bound first, an evaluated branch before one not yet, then the oldest; empty at the end")
    func order() {
        var queue = BranchQueue<String>()
        queue.push("3-new", bound: 3, evaluated: false)
        queue.push("2-new-a", bound: 2, evaluated: false)
        queue.push("2-done", bound: 2, evaluated: true)
        queue.push("2-new-b", bound: 2, evaluated: false)
        #expect(queue.pop() == "2-done")
        #expect(queue.pop() == "2-new-a")
        // A lower bound pushed after pops still comes first.
        queue.push("1-new", bound: 1, evaluated: false)
        queue.push("0-done", bound: 0, evaluated: true)
        #expect(queue.pop() == "0-done")
        #expect(queue.pop() == "1-new")
        #expect(queue.pop() == "2-new-b")
        #expect(queue.pop() == "3-new")
        #expect(queue.pop() == nil)
    }
}
