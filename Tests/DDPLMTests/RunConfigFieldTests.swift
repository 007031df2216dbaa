import XCTest
@testable import DDPLM
import Foundation

/// Adding a setting cannot silently go unsaved: every stored field of every config.json section (found
/// by reflection, so a new field fails here until it is listed) changes to a non-default value, survives
/// config.json's encode/decode, and changes the run identity exactly when its section is fixed for a run
/// (model, data, training) and leaves it alone when it may change on resume (stop, logging).
final class RunConfigFieldTests: XCTestCase {
    typealias Edit = (RunConfig) -> RunConfig

    static func edit<T>(_ path: WritableKeyPath<RunConfig, T>, _ value: T) -> Edit {
        { var c = $0; c[keyPath: path] = value; return c }
    }

    /// One edit per stored field, by section; the reflection check below keeps this list complete.
    let sections: [(name: String, fixed: Bool, fields: [String: Edit])] = [
        ("model", true, ["vocabSize": edit(\.model.vocabSize, 77), "embedding": edit(\.model.embedding, 9), "hidden": edit(\.model.hidden, 11),
                         "layers": edit(\.model.layers, 3), "cell": edit(\.model.cell, .gru), "dropout": edit(\.model.dropout, 0.25),
                         "tieWeights": edit(\.model.tieWeights, true)]),
        ("data", true, ["train": edit(\.data.train, "a.txt"), "valid": edit(\.data.valid, "b.txt"), "test": edit(\.data.test, "c.txt"),
                        "maxVocab": edit(\.data.maxVocab, 123), "batch": edit(\.data.batch, 12), "bptt": edit(\.data.bptt, 7)]),
    ] + sharedSections(training: \.training, stop: \.stop, logging: \.logging)

    func testEveryFieldIsSavedAndFingerprintedWhereFixed() throws {
        let base = RunConfig(model: ModelConfig(vocabSize: 50), vocabHash: "h", data: .init(train: "t", valid: "v", test: "s"))
        try checkConfigFields(base: base, sections: sections, flagNames: RunConfig.flagNames, identity: \.identity,
                              load: RunConfig.load) { try $0.refuseFixedChanges(from: $1, run: "R") }
    }
}

/// The same guard for a classifier run's config.json (`ClassifierRunConfig`).
final class ClassifierRunConfigFieldTests: XCTestCase {
    typealias Edit = (ClassifierRunConfig) -> ClassifierRunConfig

    static func edit<T>(_ path: WritableKeyPath<ClassifierRunConfig, T>, _ value: T) -> Edit {
        { var c = $0; c[keyPath: path] = value; return c }
    }

    let sections: [(name: String, fixed: Bool, fields: [String: Edit])] = [
        ("model", true, ["kind": edit(\.model.kind, .cnn), "vocabSize": edit(\.model.vocabSize, 77), "classes": edit(\.model.classes, 3),
                         "embedding": edit(\.model.embedding, 9), "hidden": edit(\.model.hidden, 11), "layers": edit(\.model.layers, 3),
                         "dropout": edit(\.model.dropout, 0.25), "filters": edit(\.model.filters, 7), "filterSizes": edit(\.model.filterSizes, [2, 3])]),
        ("data", true, ["train": edit(\.data.train, "a.txt"), "valid": edit(\.data.valid, "b.txt"), "test": edit(\.data.test, "c.txt"),
                        "validFraction": edit(\.data.validFraction, 0.2), "maxVocab": edit(\.data.maxVocab, 123), "batch": edit(\.data.batch, 12),
                        "maxTokens": edit(\.data.maxTokens, 40), "vectors": edit(\.data.vectors, "g.txt")]),
    ] + sharedSections(training: \.training, stop: \.stop, logging: \.logging)

    func testEveryFieldIsSavedAndFingerprintedWhereFixed() throws {
        let base = ClassifierRunConfig(model: ClassifierConfig(kind: .bilstm, vocabSize: 50, classes: 2), labels: ["neg", "pos"],
                                       vocabHash: "h", data: .init(train: "t"))
        try checkConfigFields(base: base, sections: sections, flagNames: ClassifierRunConfig.flagNames, identity: \.identity,
                              load: ClassifierRunConfig.load) { try $0.refuseFixedChanges(from: $1, run: "R") }
    }
}

/// The sections both kinds of run share (the same types), edited through `training`, `stop`, `logging`.
func sharedSections<C>(training: WritableKeyPath<C, RunConfig.TrainingConfig>, stop: WritableKeyPath<C, RunConfig.StopConfig>,
                       logging: WritableKeyPath<C, RunConfig.LoggingConfig>) -> [(name: String, fixed: Bool, fields: [String: (C) -> C])] {
    func edit<S, T>(_ section: WritableKeyPath<C, S>, _ field: WritableKeyPath<S, T>, _ value: T) -> (C) -> C {
        { var c = $0; c[keyPath: section][keyPath: field] = value; return c }
    }
    return [
        ("training", true, ["lr": edit(training, \.lr, 0.25), "lrDecay": edit(training, \.lrDecay, 0.75), "clip": edit(training, \.clip, 1.5),
                            "evalEvery": edit(training, \.evalEvery, 17), "seed": edit(training, \.seed, 99), "chunkRows": edit(training, \.chunkRows, 64),
                            "gradientWire": edit(training, \.gradientWire, .bf16), "vocabParallel": edit(training, \.vocabParallel, true)]),
        ("stop", false, ["epochs": edit(stop, \.epochs, 4), "maxSteps": edit(stop, \.maxSteps, 40), "maxMinutes": edit(stop, \.maxMinutes, 2.5)]),
        ("logging", false, ["logEvery": edit(logging, \.logEvery, 3), "saveEvery": edit(logging, \.saveEvery, 9),
                            "skipNonFinite": edit(logging, \.skipNonFinite, true), "tensorboard": edit(logging, \.tensorboard, true)]),
    ]
}

extension XCTestCase {
    /// For every section's fields (each edited once; reflection checks that none is left out): the edit
    /// survives config.json, and changes the identity and is refused on resume by its option's name
    /// exactly when its section is fixed.
    func checkConfigFields<C: RunConfigFile & Equatable>(base: C, sections: [(name: String, fixed: Bool, fields: [String: (C) -> C])],
                                                        flagNames: [String: String], identity: KeyPath<C, String>,
                                                        load: (String) throws -> C, refuse: (C, C) throws -> Void) throws {
        let reflected = Dictionary(uniqueKeysWithValues: Mirror(reflecting: base).children.compactMap { child in
            child.label.map { ($0, Set(Mirror(reflecting: child.value).children.compactMap(\.label))) }
        })
        for section in sections {
            XCTAssertEqual(reflected[section.name], Set(section.fields.keys),
                           "\(C.self).\(section.name) has fields this test does not edit: list each new one here")
            for (field, change) in section.fields {
                let changed = change(base), what = "\(section.name).\(field)"
                XCTAssertNotEqual(changed, base, "\(what): the edit must change the value")
                let path = NSTemporaryDirectory() + "ddplm-config-\(getpid())-\(UUID().uuidString.prefix(8)).json"
                defer { try? FileManager.default.removeItem(atPath: path) }
                try AtomicFile.write(try changed.encoded(), to: path)
                XCTAssertEqual(try load(path), changed, "\(what) is not saved in config.json")
                if section.fixed {
                    XCTAssertNotEqual(changed[keyPath: identity], base[keyPath: identity], "\(what) is fixed for a run but not in its identity")
                    let flag = flagNames[what]
                    XCTAssertNotNil(flag, "\(what) has no option name for the resume refusal")
                    XCTAssertThrowsError(try refuse(changed, base)) { e in
                        XCTAssertTrue("\(e)".hasPrefix("\(flag ?? "?") cannot change when resuming: the run has"), "\(e)")
                    }
                } else {
                    XCTAssertEqual(changed[keyPath: identity], base[keyPath: identity], "\(what) may change on resume, so it must not change the identity")
                    XCTAssertNoThrow(try refuse(changed, base))
                }
            }
        }
    }
}
