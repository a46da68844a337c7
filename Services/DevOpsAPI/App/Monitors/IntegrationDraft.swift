import Foundation
import ServiceKit

/// An integration as an admin describes it, checked field by field before anything is stored. No I/O.
struct IntegrationDraft: Sendable, Equatable {
    var kind: IntegrationKind
    var name: String
    var baseURL: String
    var credentials: [String: String]
    var config: [String: JSONValue]
    var pollSeconds: Int
    var enabled: Bool

    static let pollRange = 300...900
    static let defaultPollSeconds = 600
    /// How far back a collection reads (`config.window_hours`).
    static let windowHours = 1...168
    static let defaultWindowHours = 24
    static let maxCredentialLength = 16 * 1024

    /// The body of `POST /api/ops/integrations`.
    struct Create: Decodable {
        var kind: String
        var name: String
        var baseURL: String?
        var credentials: [String: String]
        var config: [String: JSONValue]?
        var pollSeconds: Int?
        var enabled: Bool?

        enum CodingKeys: String, CodingKey {
            case kind, name, credentials, config, enabled
            case baseURL = "base_url"
            case pollSeconds = "poll_seconds"
        }
    }

    /// The body of `PATCH /api/ops/integrations/{id}`: what is present replaces what was (credentials as a whole).
    struct Update: Decodable {
        var name: String?
        var baseURL: String?
        var credentials: [String: String]?
        var config: [String: JSONValue]?
        var pollSeconds: Int?
        var enabled: Bool?

        enum CodingKeys: String, CodingKey {
            case name, credentials, config, enabled
            case baseURL = "base_url"
            case pollSeconds = "poll_seconds"
        }
    }

    static func validate(_ body: Create) throws -> IntegrationDraft {
        guard let kind = IntegrationKind(rawValue: body.kind) else {
            throw APIError.invalidPayload([
                FieldProblem("kind", "must be one of \(IntegrationKind.allCases.map(\.rawValue).joined(separator: ", "))")
            ])
        }
        return try validate(
            kind: kind,
            name: body.name,
            baseURL: body.baseURL,
            credentials: body.credentials,
            config: body.config ?? [:],
            pollSeconds: body.pollSeconds ?? defaultPollSeconds,
            enabled: body.enabled ?? true
        )
    }

    /// The stored integration with the update applied, checked as a whole.
    func applying(_ update: Update) throws -> IntegrationDraft {
        try Self.validate(
            kind: kind,
            name: update.name ?? name,
            baseURL: update.baseURL ?? baseURL,
            credentials: update.credentials ?? credentials,
            config: update.config ?? config,
            pollSeconds: update.pollSeconds ?? pollSeconds,
            enabled: update.enabled ?? enabled
        )
    }

    static func validate(
        kind: IntegrationKind,
        name: String,
        baseURL: String?,
        credentials: [String: String],
        config: [String: JSONValue],
        pollSeconds: Int,
        enabled: Bool
    ) throws -> IntegrationDraft {
        var problems: [FieldProblem] = []
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty || name.count > 100 { problems.append(FieldProblem("name", "must be 1 to 100 characters")) }
        var url = ""
        switch (baseURL ?? kind.defaultBaseURL).map(Self.normalizedBaseURL) {
        case nil: problems.append(FieldProblem("base_url", "is required for \(kind.rawValue): the instance's root URL"))
        case .some(nil): problems.append(FieldProblem("base_url", "must be an http or https URL with a host, and no query, fragment or user"))
        case .some(.some(let normalized)): url = normalized
        }
        for field in kind.credentialFields where (credentials[field] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            problems.append(FieldProblem("credentials.\(field)", "is required"))
        }
        for (field, value) in credentials {
            if !kind.credentialFields.contains(field) {
                problems.append(
                    FieldProblem(
                        "credentials.\(field)",
                        "is not a credential \(kind.rawValue) uses (\(kind.credentialFields.joined(separator: ", ")))"
                    )
                )
            } else if value.utf8.count > maxCredentialLength {
                problems.append(FieldProblem("credentials.\(field)", "must be at most \(maxCredentialLength) bytes"))
            }
        }
        for field in config.keys where field != "window_hours" && !kind.configFields.contains(field) {
            problems.append(
                FieldProblem("config.\(field)", "is not a setting \(kind.rawValue) uses (window_hours, \(kind.configFields.joined(separator: ", ")))")
            )
        }
        if !pollRange.contains(pollSeconds) {
            problems.append(FieldProblem("poll_seconds", "must be from \(pollRange.lowerBound) to \(pollRange.upperBound)"))
        }
        let draft = IntegrationDraft(
            kind: kind,
            name: name,
            baseURL: url,
            credentials: credentials,
            config: config,
            pollSeconds: pollSeconds,
            enabled: enabled
        )
        do throws(FieldProblems) {
            _ = try draft.windowHours()
            _ = try kind.connector(draft.target)
        } catch {
            problems += error.problems
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems.sorted { $0.field < $1.field }) }
        return draft
    }

    var target: IntegrationTarget { IntegrationTarget(kind: kind, baseURL: baseURL, credentials: credentials, config: config) }

    func windowHours() throws(FieldProblems) -> Int {
        try target.integer("window_hours", default: Self.defaultWindowHours, in: Self.windowHours)
    }

    /// `https://Host:8443/n8n/` → `https://host:8443/n8n`; nil when it is not a base URL.
    static func normalizedBaseURL(_ text: String) -> String? {
        guard text.count <= 500, var components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil, components.user == nil, components.password == nil
        else { return nil }
        components.scheme = scheme
        components.host = host.lowercased()
        while components.path.hasSuffix("/") { components.path.removeLast() }
        return components.string
    }
}
