import Testing
import XunfangPluginKit

@Suite("CSV ledgers")
struct CSVTableTests {
    @Test("quoted fields keep commas, doubled quotes and line breaks; rows keep the line they start on; a byte-order mark and blank lines are dropped")
    func quoted() throws {
        let text = "\u{FEFF}id,name,view\r\nA1, 北门路口 ,\"east, west\"\n\n\"A2\",\"say \"\"hi\"\"\",\"two\nlines\"\nA3,,\n"
        let table = try CSVTable(text, header: ["id", "name", "view"])
        #expect(table.rows.map(\.line) == [2, 4, 6])
        #expect(table.rows.map { $0["id"] } == ["A1", "A2", "A3"])
        #expect(table.rows[0]["name"] == "北门路口" && table.rows[0]["view"] == "east, west")
        #expect(table.rows[1]["name"] == "say \"hi\"" && table.rows[1]["view"] == "two\nlines")
        #expect(table.rows[2]["name"] == "" && table.rows[2]["missing"] == "")
    }

    @Test("a wrong header or a line with the wrong number of fields is named by its line")
    func errors() {
        #expect(throws: CSVTable.Error(line: 1, message: "the header must be id,name")) { try CSVTable("id,label\nA,B\n", header: ["id", "name"]) }
        #expect(throws: CSVTable.Error(line: 3, message: "3 fields; a line is id,name")) { try CSVTable("id,name\nA,B\nC,D,E\n", header: ["id", "name"]) }
        #expect(throws: CSVTable.Error(line: 1, message: "the header must be id,name")) { try CSVTable("", header: ["id", "name"]) }
    }
}
