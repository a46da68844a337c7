import Foundation
import ServiceKit

/// The two kinds of event the website sends, and the CRM webhook path of each.
public enum CRMEventKind: String, Codable, Sendable, CaseIterable {
    case customerRegistration = "customer-registration"
    case repairRequest = "repair-request"
}

/// Checks an event body against the seed's payloads and names every problem at once. No I/O.
enum EventValidation {
    /// Photos must be strings; only with `strictPhotoURLs` (`CRM_STRICT_PHOTO_URLS=true`) must they be http(s) URLs,
    /// since the seed's own example sends placeholders (`["url1", "url2"]`) and the CRM checks them itself.
    static func problems(in body: JSONValue, kind: CRMEventKind, strictPhotoURLs: Bool = false) -> [FieldProblem] {
        guard case .object(let body) = body else { return [FieldProblem("body", "must be a JSON object")] }
        var check = Checker(strictPhotoURLs: strictPhotoURLs)
        switch kind {
        case .customerRegistration:
            check.customer(body["customer"], at: "customer", required: true)
        case .repairRequest:
            check.repair(body["repair"], at: "repair")
            if body["customer"] != nil { check.customer(body["customer"], at: "customer", required: false) }
        }
        check.object(body["metadata"], at: "metadata", required: false)
        return check.problems
    }

    private struct Checker {
        let strictPhotoURLs: Bool
        var problems: [FieldProblem] = []

        mutating func customer(_ value: JSONValue?, at path: String, required: Bool) {
            guard let customer = object(value, at: path, required: required) else { return }
            string(customer["firstName"], at: "\(path).firstName", required: required, maxLength: 100)
            string(customer["lastName"], at: "\(path).lastName", required: required, maxLength: 100)
            email(customer["email"], at: "\(path).email", required: true)
            string(customer["phone"], at: "\(path).phone", required: false, maxLength: 40)
            string(customer["websiteUserId"], at: "\(path).websiteUserId", required: required, maxLength: 200)
            date(customer["registrationDate"], at: "\(path).registrationDate", required: required)
            string(customer["source"], at: "\(path).source", required: false, maxLength: 100)
            string(customer["language"], at: "\(path).language", required: false, maxLength: 10)
            string(customer["status"], at: "\(path).status", required: false, maxLength: 50)
            object(customer["preferences"], at: "\(path).preferences", required: false)
        }

        mutating func repair(_ value: JSONValue?, at path: String) {
            guard let repair = object(value, at: path, required: true) else { return }
            string(repair["ticketNumber"], at: "\(path).ticketNumber", required: true, maxLength: 100)
            string(repair["websiteRepairId"], at: "\(path).websiteRepairId", required: true, maxLength: 200)
            email(repair["customerEmail"], at: "\(path).customerEmail", required: true)
            string(repair["customerName"], at: "\(path).customerName", required: true, maxLength: 200)
            string(repair["deviceType"], at: "\(path).deviceType", required: true, maxLength: 100)
            string(repair["deviceModel"], at: "\(path).deviceModel", required: false, maxLength: 200)
            string(repair["issueDescription"], at: "\(path).issueDescription", required: true, maxLength: 5_000)
            string(repair["serviceType"], at: "\(path).serviceType", required: false, maxLength: 100)
            oneOf(repair["priority"], at: "\(path).priority", ["low", "medium", "normal", "high", "urgent"])
            string(repair["language"], at: "\(path).language", required: false, maxLength: 10)
            if case .string = repair["address"] {
                string(repair["address"], at: "\(path).address", required: false, maxLength: 500)
            } else {
                object(repair["address"], at: "\(path).address", required: false)
            }
            string(repair["notes"], at: "\(path).notes", required: false, maxLength: 5_000)
            date(repair["createdAt"], at: "\(path).createdAt", required: true)
            cost(repair["estimatedCost"], at: "\(path).estimatedCost")
            photos(repair["photos"], at: "\(path).photos")
        }

        @discardableResult
        mutating func object(_ value: JSONValue?, at path: String, required: Bool) -> [String: JSONValue]? {
            guard let value, !value.isNull else {
                if required { problems.append(FieldProblem(path, "is required")) }
                return nil
            }
            guard case .object(let object) = value else {
                problems.append(FieldProblem(path, "must be an object"))
                return nil
            }
            return object
        }

        mutating func string(_ value: JSONValue?, at path: String, required: Bool, maxLength: Int) {
            guard let value, !value.isNull else {
                if required { problems.append(FieldProblem(path, "is required")) }
                return
            }
            guard let string = value.string else { return problems.append(FieldProblem(path, "must be a string")) }
            let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
            if required && trimmed.isEmpty { return problems.append(FieldProblem(path, "must not be empty")) }
            if string.count > maxLength { problems.append(FieldProblem(path, "must be at most \(maxLength) characters")) }
        }

        mutating func email(_ value: JSONValue?, at path: String, required: Bool) {
            let before = problems.count
            string(value, at: path, required: required, maxLength: 254)
            guard problems.count == before, let email = value?.string else { return }
            if !Self.isEmail(email) { problems.append(FieldProblem(path, "must be a valid email address")) }
        }

        mutating func date(_ value: JSONValue?, at path: String, required: Bool) {
            let before = problems.count
            string(value, at: path, required: required, maxLength: 40)
            guard problems.count == before, let text = value?.string else { return }
            if Self.parseISO8601(text) == nil { problems.append(FieldProblem(path, "must be an ISO-8601 date-time")) }
        }

        mutating func oneOf(_ value: JSONValue?, at path: String, _ allowed: [String]) {
            guard let value, !value.isNull else { return }
            guard let string = value.string, allowed.contains(string) else {
                return problems.append(FieldProblem(path, "must be one of \(allowed.joined(separator: ", "))"))
            }
        }

        mutating func cost(_ value: JSONValue?, at path: String) {
            guard let value, !value.isNull else { return }
            guard case .number(let number) = value else { return problems.append(FieldProblem(path, "must be a number")) }
            if number < 0 { problems.append(FieldProblem(path, "must not be negative")) }
        }

        mutating func photos(_ value: JSONValue?, at path: String) {
            guard let value, !value.isNull else { return }
            guard case .array(let photos) = value else { return problems.append(FieldProblem(path, "must be an array of strings")) }
            if photos.count > 20 { problems.append(FieldProblem(path, "must have at most 20 photos")) }
            for (index, photo) in photos.enumerated() {
                guard let text = photo.string, !text.isEmpty, text.count <= 2_048 else {
                    problems.append(FieldProblem("\(path)[\(index)]", "must be a string of 1 to 2048 characters"))
                    continue
                }
                guard strictPhotoURLs else { continue }
                if URL(string: text).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) != true {
                    problems.append(FieldProblem("\(path)[\(index)]", "must be an http(s) URL"))
                }
            }
        }

        static func isEmail(_ text: String) -> Bool {
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else {
                return false
            }
            return !text.contains { $0.isWhitespace }
        }

        static func parseISO8601(_ text: String) -> Date? {
            let withFraction = ISO8601DateFormatter()
            withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let plain = ISO8601DateFormatter()
            plain.formatOptions = [.withInternetDateTime]
            let dateOnly = ISO8601DateFormatter()
            dateOnly.formatOptions = [.withFullDate]
            return withFraction.date(from: text) ?? plain.date(from: text) ?? dateOnly.date(from: text)
        }
    }
}
