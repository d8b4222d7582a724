import SituationAnalysisPlugin
import Logging
import Testing
import XunfangPluginKit
import XunfangTestSupport

@Suite("Four-colour rule")
struct ColourRuleTests {
    let rule = ColourRule()

    @Test("tails equal scipy's: Poisson P(X≥10|4), P(X≥6|4) and a moment-matched negative binomial")
    func tails() {
        // scipy.stats 1.17.1: poisson.sf(9, 4) and poisson.sf(5, 4).
        let ten = rule.judge(count: 10, baseline: Array(repeating: 4, count: 16))
        #expect(abs(ten.pUpper - 0.008132242796933871) < 1e-12)
        #expect(ten.colour == .orange && !ten.overdispersed)
        let six = rule.judge(count: 6, baseline: Array(repeating: 4, count: 16))
        #expect(abs(six.pUpper - 0.2148696129695948) < 1e-12 && six.colour == .green)
        // Sixteen counts with mean 5 and sample variance 32/3: nbinom.sf(11, r, p) and nbinom.sf(13, r, p)
        // with r = μ²/(σ²−μ), p = r/(r+μ).
        let spread = [1, 9, 2, 8, 3, 7, 1, 9, 5, 5, 0, 10, 4, 6, 2, 8]
        let wild = rule.judge(count: 12, baseline: spread)
        #expect(wild.overdispersed && wild.baselineMean == 5)
        #expect(abs(wild.pUpper - 0.04274560711442662) < 1e-12)
        #expect(abs(rule.judge(count: 14, baseline: spread).pUpper - 0.01816531983100981) < 1e-12)
        // Against a Poisson with the same mean, 12 would already be orange; the spread keeps it yellow.
        #expect(wild.colour == .yellow)
        #expect(rule.judge(count: 12, baseline: Array(repeating: 5, count: 16)).colour == .orange)
    }

    @Test("Poisson tails stay right past a mean of 745 (a busy county's daily total), against scipy")
    func largeMeans() {
        // scipy.stats: poisson.sf(k - 1, mean).
        for (count, mean, expected) in [(1_000, 1_000, 0.5042052441802155), (1_100, 1_000, 0.0009626304058665587),
                                        (900, 1_000, 0.9993774022157249), (2_000, 1_500, 6.601488115620536e-35)] {
            let judged = rule.judge(count: count, baseline: Array(repeating: mean, count: 16))
            #expect(abs(judged.pUpper - expected) <= 1e-9 * expected, "P(X ≥ \(count) | \(mean))")
        }
        #expect(rule.judge(count: 1_100, baseline: Array(repeating: 1_000, count: 16)).colour == .red)
    }

    @Test("negative binomial tails stay right when P(X = 0) underflows (mean 1,000, size 1,415), against scipy")
    func largeOverdispersed() {
        // Sixteen days of 960 and 1,040: mean 1,000, variance 1,706.7, r = μ²/(σ²−μ) = 1,415.09,
        // p = r/(r+μ) = 0.5859; p^r is e^-757, below the smallest double. scipy.stats: nbinom.sf(k - 1, r, p).
        let baseline = (0..<16).map { $0 % 2 == 0 ? 960 : 1_040 }
        for (count, expected) in [(1_000, 0.500944284705307), (1_100, 0.009038323771945933), (1_200, 1.8307894126394167e-06), (900, 0.9934901026493387)] {
            let judged = rule.judge(count: count, baseline: baseline)
            #expect(judged.overdispersed)
            #expect(abs(judged.pUpper - expected) <= 1e-9 * expected, "P(X ≥ \(count)) = \(judged.pUpper)")
        }
        #expect(rule.judge(count: 1_100, baseline: baseline).colour == .orange)
    }

    @Test("colour edges: each threshold is inclusive, and a small count never flips by noise")
    func edges() {
        let baseline = Array(repeating: 4, count: 16)
        let colours = (0...20).map { rule.judge(count: $0, baseline: baseline).colour }
        #expect(colours == colours.sorted(), "colour never falls as the count rises")
        #expect(colours.first == .green && colours.last == .red)
        var strict = ColourRule()
        strict.yellowBelow = rule.judge(count: 6, baseline: baseline).pUpper   // exactly P(X ≥ 6 | 4)
        #expect(strict.judge(count: 6, baseline: baseline).colour == .yellow)
        // A quiet place: one incident against an empty history stays green; five do not.
        #expect(rule.judge(count: 1, baseline: Array(repeating: 0, count: 16)).colour == .green)
        #expect(rule.judge(count: 5, baseline: Array(repeating: 0, count: 16)).colour == .red)
    }

    @Test("deployment levels: the documents' shares, red configurable")
    func levels() {
        #expect(Colour.allCases.map { $0.minimumPatrolShare() } == [0.2, 0.4, 0.6, 0.8])
        #expect(Colour.red.minimumPatrolShare(red: 1.0) == 1.0)
        #expect(Colour.allCases.map(\.deploymentLevel) == [4, 3, 2, 1])
    }
}

@Suite("Colour rule settings")
struct ColourRuleSettingsTests {
    @Test("a county sets its own thresholds and red share; bad values stop the plugin naming the setting")
    func settings() throws {
        #expect(try ColourRule(settings: [:]) == ColourRule())
        let strict = try ColourRule(settings: ["SITUATION_YELLOW_P": "0.02", "SITUATION_ORANGE_P": "0.005", "SITUATION_RED_P": "0.0005", "SITUATION_RED_SHARE": "1"])
        #expect(strict.yellowBelow == 0.02 && strict.minimumPatrolShare(.red) == 1 && strict.minimumPatrolShare(.yellow) == 0.4)
        // P(X ≥ 6 | Poisson 2) = 0.0166: yellow by default, green where yellow starts at 0.01.
        let lenient = try ColourRule(settings: ["SITUATION_YELLOW_P": "0.01", "SITUATION_ORANGE_P": "0.005", "SITUATION_RED_P": "0.0005"])
        #expect(ColourRule().judge(count: 6, baseline: [2, 2, 2]).colour == .yellow && lenient.judge(count: 6, baseline: [2, 2, 2]).colour == .green)
        for (settings, name) in [(["SITUATION_RED_P": "often"], "SITUATION_RED_P"), (["SITUATION_RED_P": "0.2"], "SITUATION_RED_P"),
                                 (["SITUATION_RED_SHARE": "0.5"], "SITUATION_RED_SHARE")] {
            do {
                _ = try ColourRule(settings: settings)
                Issue.record("accepted \(settings)")
            } catch {
                #expect(error.message.contains(name), "\(error.message)")
            }
        }
        #expect(throws: ColourRuleError.self) {
            try SituationAnalysisPlugin(context: PluginContext(instance: "situation", dataDirectory: temporaryDirectory(),
                                                               settings: ["SITUATION_RED_SHARE": "2"], logger: Logger(label: "test")))
        }
    }
}
