/**
 * @file manifest.h
 * @brief Manifests for `flotilla apply -f`: YAML (one or more documents) or
 *        JSON, turned into JSON objects. Untrusted input: bounded in size,
 *        depth and document count.
 */
#ifndef CTL_CLI_MANIFEST_H
#define CTL_CLI_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/** Largest manifest file. */
#define CTL_MANIFEST_MAX (4 * 1024 * 1024)
/** Deepest nesting of maps and lists. */
#define CTL_MANIFEST_DEPTH_MAX 64
/** Most documents in one file. */
#define CTL_MANIFEST_DOCS_MAX 10000

/**
 * @brief Parse YAML or JSON text into an array of documents (objects).
 *        Plain YAML scalars follow the YAML 1.2 core schema (null, true/false,
 *        integers, floats); quoted ones stay strings. Empty documents are skipped.
 * @param[out] ret_docs new JSON array of objects
 * @param[out] err message on failure ("line 3: mapping values are not allowed")
 * @return 0, -EINVAL (syntax, a document that is not a mapping, aliases),
 *         -E2BIG (size, depth or document limit), -ENOMEM
 */
int ctl_manifest_parse(const char *text, size_t len, json_t **ret_docs, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/**
 * @brief ctl_manifest_parse(), and where each document starts.
 * @param[out] ret_lines new JSON array of integers: the 1-based line of each
 *             document's top-level mapping, parallel to @p ret_docs (may be NULL)
 * @return as ctl_manifest_parse()
 */
int ctl_manifest_parse_lines(const char *text, size_t len, json_t **ret_docs, json_t **ret_lines,
			     char *err, size_t err_len) __attribute__((warn_unused_result));

/** @brief Write @p j as YAML to @p f (block style, strings quoted when needed). */
void ctl_manifest_print_yaml(FILE *f, const json_t *j);

#endif
