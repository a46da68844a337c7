import ServiceKit
import Testing

@Suite struct ConfigurationTests {
    let descriptor = ServiceDescriptor(name: "billing-webhooks", schema: "billing", defaultPort: 8101, migrations: [])
    let valid = [
        "DATABASE_URL": "postgres://revmesh:secret@db.internal:5433/revmesh",
        "INTERNAL_SECRET": String(repeating: "s", count: 40),
    ]

    func load(_ values: [String: String]) throws -> ServiceConfiguration {
        try ServiceConfiguration.load(for: descriptor, from: EnvironmentReader(values))
    }

    @Test func readsAValidEnvironment() throws {
        let configuration = try load(valid.merging(["BILLING_WEBHOOKS_PORT": "9001"]) { $1 })
        #expect(configuration.port == 9001)
        #expect(configuration.database.host == "db.internal")
        #expect(configuration.database.port == 5433)
        #expect(configuration.database.username == "revmesh")
        #expect(configuration.database.database == "revmesh")
    }

    @Test func defaultsToTheServicePort() throws {
        #expect(try load(valid).port == 8101)
    }

    @Test func missingSecretNamesTheVariable() {
        var values = valid
        values["INTERNAL_SECRET"] = nil
        #expect(throws: ConfigurationError.self) { try load(values) }
        do {
            _ = try load(values)
        } catch let error as ConfigurationError {
            #expect(error.variable == "INTERNAL_SECRET")
            #expect(error.description.contains("INTERNAL_SECRET is required"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        ("INTERNAL_SECRET", "too-short"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DATABASE_URL", "not a url"),
        ("BILLING_WEBHOOKS_PORT", "eighty"),
        ("BILLING_WEBHOOKS_PORT", "70000"),
        ("LOG_LEVEL", "loud"),
    ])
    func malformedVariableIsNamed(variable: String, value: String) {
        var values = valid
        values[variable] = value
        do {
            _ = try load(values)
            Issue.record("\(variable)=\(value) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.variable == variable)
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
