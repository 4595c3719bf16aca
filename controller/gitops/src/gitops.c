/* GitOps sync: fetch with libgit2, parse and validate a whole commit, then apply it. */
#define _GNU_SOURCE
#include <errno.h>
#include <git2.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "controller/gitops.h"
#include "manifest.h"

struct ctl_gitops {
	struct ctl_store *store;
	char *url, *branch, *path, *repo_dir;
	char *ssh_user, *ssh_key, *ssh_pubkey, *ssh_pass, *https_user, *https_pass;
	size_t file_max, commit_max;
	bool leader_only;
	pthread_mutex_t lock; /* one sync or drift check at a time; guards desired */
	json_t *desired;      /* "Kind/name" -> object of the last applied commit */
	/* what /metrics and GET /sync show: under slock, never held during I/O */
	pthread_mutex_t slock;
	json_t *last; /* last result */
	size_t n_objects;
	char commit[GIT_OID_HEXSZ + 1]; /* written under lock and slock */
	double last_ts, last_ok_ts;
	unsigned long n_ok, n_error;
	size_t out_of_sync;
	/* thread */
	pthread_mutex_t tlock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop, kick;
	int interval_s, drift_s;
};

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int ctl_gitops_new(const struct ctl_gitops_config *cfg, struct ctl_store *store,
		   struct ctl_gitops **ret_g)
{
	if (!cfg || !store || !ret_g || !cfg->url || !*cfg->url || !cfg->data_dir ||
	    !*cfg->data_dir)
		return -EINVAL;
	struct ctl_gitops *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	git_libgit2_init(); /* counted: ctl_gitops_free() shuts it down */
	g->store = store;
	g->url = strdup(cfg->url);
	g->branch = strdup(cfg->branch && *cfg->branch ? cfg->branch : "main");
	/* the path without leading/trailing slashes; "" is the root */
	const char *p = cfg->path ? cfg->path : "";
	while (*p == '/')
		p++;
	g->path = strdup(p);
	if (g->path) {
		size_t l = strlen(g->path);
		while (l && g->path[l - 1] == '/')
			g->path[--l] = 0;
	}
	if (asprintf(&g->repo_dir, "%s/gitops.git", cfg->data_dir) < 0)
		g->repo_dir = NULL;
	g->ssh_user = dup_or_null(cfg->ssh_user);
	g->ssh_key = dup_or_null(cfg->ssh_key);
	g->ssh_pubkey = dup_or_null(cfg->ssh_pubkey);
	g->ssh_pass = dup_or_null(cfg->ssh_passphrase);
	g->https_user = dup_or_null(cfg->https_user);
	g->https_pass = dup_or_null(cfg->https_password);
	g->file_max = cfg->file_max ? cfg->file_max : CTL_GITOPS_FILE_MAX;
	g->commit_max = cfg->commit_max ? cfg->commit_max : CTL_GITOPS_COMMIT_MAX;
	g->leader_only = cfg->leader_only;
	g->desired = json_object();
	g->last = json_pack("{s:s}", "result", "none");
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->slock, NULL);
	pthread_mutex_init(&g->tlock, NULL);
	pthread_cond_init(&g->cond, NULL);
	if (!g->url || !g->branch || !g->path || !g->repo_dir || !g->desired || !g->last) {
		ctl_gitops_free(g);
		return -ENOMEM;
	}
	*ret_g = g;
	return 0;
}

void ctl_gitops_free(struct ctl_gitops *g)
{
	if (!g)
		return;
	if (g->running) {
		pthread_mutex_lock(&g->tlock);
		g->stop = true;
		pthread_cond_signal(&g->cond);
		pthread_mutex_unlock(&g->tlock);
		pthread_join(g->thread, NULL);
	}
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->slock);
	pthread_mutex_destroy(&g->tlock);
	pthread_cond_destroy(&g->cond);
	json_decref(g->desired);
	json_decref(g->last);
	free(g->url);
	free(g->branch);
	free(g->path);
	free(g->repo_dir);
	free(g->ssh_user);
	free(g->ssh_key);
	free(g->ssh_pubkey);
	free(g->ssh_pass);
	free(g->https_user);
	free(g->https_pass);
	free(g);
	git_libgit2_shutdown();
}

/* ---- fetching ---- */

struct cred_state {
	struct ctl_gitops *g;
	int tries;
};

static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	struct cred_state *cs = payload;
	struct ctl_gitops *g = cs->g;
	(void)url;
	if (cs->tries++ > 0)
		return GIT_EAUTH; /* the configured credentials were refused: do not loop */
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && g->ssh_key)
		return git_credential_ssh_key_new(out,
						  user_from_url ? user_from_url
						  : g->ssh_user ? g->ssh_user
								: "git",
						  g->ssh_pubkey, g->ssh_key, g->ssh_pass);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && g->https_user)
		return git_credential_userpass_plaintext_new(out, g->https_user,
							     g->https_pass ? g->https_pass : "");
	return GIT_PASSTHROUGH;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Fetch the branch into the bare repository; resolve its head commit. */
static int fetch(struct ctl_gitops *g, git_repository **ret_repo, git_commit **ret_commit,
		 char *reason, size_t reason_len)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int r;
	if (git_repository_open_bare(&repo, g->repo_dir) < 0) {
		if (git_repository_init(&repo, g->repo_dir, 1) < 0) {
			snprintf(reason, reason_len, "cannot create %s: %s", g->repo_dir, git_msg());
			return -EIO;
		}
	}
	/* Anonymous, and without url.*.insteadOf rewriting: the URL is used as
	 * configured (that lookup also leaks in libgit2 1.5's regex config glob). */
	git_remote_create_options ro;
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, g->url, &ro) < 0) {
		snprintf(reason, reason_len, "bad repository URL: %s", git_msg());
		r = -EINVAL;
		goto out;
	}
	char spec[600], local[600];
	snprintf(local, sizeof(local), "refs/remotes/origin/%s", g->branch);
	snprintf(spec, sizeof(spec), "+refs/heads/%s:%s", g->branch, local);
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	struct cred_state cs = {g, 0};
	fo.callbacks.credentials = on_credentials;
	fo.callbacks.payload = &cs;
	fo.update_fetchhead = 0;
	if (git_remote_fetch(remote, &refspecs, &fo, "flotilla gitops fetch") < 0) {
		snprintf(reason, reason_len, "fetch %s: %s", g->url, git_msg());
		r = -EIO;
		goto out;
	}
	if (git_reference_lookup(&ref, repo, local) < 0 ||
	    git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		snprintf(reason, reason_len, "branch %s not found in %s", g->branch, g->url);
		r = -EIO;
		goto out;
	}
	*ret_commit = (git_commit *)obj;
	obj = NULL;
	*ret_repo = repo;
	repo = NULL;
	r = 0;
out:
	git_object_free(obj);
	git_reference_free(ref);
	git_remote_free(remote);
	git_repository_free(repo);
	return r;
}

/* ---- reading and validating a commit ---- */

struct sync_err {
	char file[512];
	long line;
	char reason[512];
};

__attribute__((format(printf, 4, 5))) static int fail_at(struct sync_err *e, const char *file,
							 long line, const char *fmt, ...)
{
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

struct walk {
	struct ctl_gitops *g;
	git_repository *repo;
	json_t *desired; /* "Kind/name" -> object */
	size_t files, bytes;
	int r;
	struct sync_err *err;
};

static bool is_manifest(const char *name)
{
	size_t l = strlen(name);
	return (l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(name + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(name + l - 5, ".json") == 0);
}

/* Check one document and add it to the desired set. */
static int take_doc(struct walk *w, const char *file, long line, json_t *doc)
{
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	if (!api || strcmp(api, CTL_API_VERSION) != 0)
		return fail_at(w->err, file, line, "apiVersion must be %s", CTL_API_VERSION);
	const char *ks = json_string_value(json_object_get(doc, "kind"));
	int kind = ks ? ctl_kind_parse(ks) : -ENOENT;
	if (kind < 0 || strcmp(ks, ctl_kind_name((enum ctl_kind)kind)) != 0)
		return fail_at(w->err, file, line, "kind: not a Flotilla kind");
	if (json_object_get(doc, "status"))
		return fail_at(w->err, file, line, "status: Git owns spec; status is not synced");
	json_t *md = json_object_get(doc, "metadata");
	if (json_is_object(md)) {
		/* the store's to write */
		json_object_del(md, "resourceVersion");
		json_object_del(md, "generation");
		json_object_del(md, "creationTimestamp");
		json_object_del(md, "uid");
		json_t *ann = json_object_get(md, "annotations");
		if (!ann) {
			ann = json_object();
			json_object_set_new(md, "annotations", ann);
		}
		if (json_is_object(ann)) {
			json_object_set_new(ann, CTL_GITOPS_ANN_MANAGED, json_string("gitops"));
			json_object_set_new(ann, CTL_GITOPS_ANN_SOURCE, json_string(file));
		}
	}
	if (!json_object_get(doc, "spec"))
		json_object_set_new(doc, "spec", json_object());
	char path[256], reason[256];
	if (ctl_obj_validate((enum ctl_kind)kind, doc, path, sizeof(path), reason,
			     sizeof(reason)) < 0)
		return fail_at(w->err, file, line, "%s: %s", path[0] ? path : "(object)", reason);
	char key[CTL_NAME_MAX + 64];
	snprintf(key, sizeof(key), "%s/%s", ks, ctl_obj_name(doc));
	json_t *prev = json_object_get(w->desired, key);
	if (prev)
		return fail_at(w->err, file, line, "%s is also defined in %s", key,
			       json_string_value(json_object_get(
				       json_object_get(json_object_get(prev, "metadata"),
						       "annotations"),
				       CTL_GITOPS_ANN_SOURCE)));
	if (json_object_size(w->desired) >= CTL_GITOPS_OBJECTS_MAX) {
		fail_at(w->err, file, line, "more than %d objects in the commit",
			CTL_GITOPS_OBJECTS_MAX);
		return -E2BIG;
	}
	json_object_set(w->desired, key, doc);
	return 0;
}

static int take_file(struct walk *w, const char *file, const char *text, size_t len)
{
	json_t *docs = NULL, *lines = NULL;
	char err[512];
	int r = ctl_manifest_parse_lines(text, len, &docs, &lines, err, sizeof(err));
	if (r < 0) {
		long line = 0;
		const char *reason = err;
		if (strncmp(err, "line ", 5) == 0) {
			char *end;
			line = strtol(err + 5, &end, 10);
			if (*end == ':')
				reason = end + 1 + (end[1] == ' ');
		}
		fail_at(w->err, file, line, "%s", reason);
		return r;
	}
	for (size_t i = 0; i < json_array_size(docs) && r == 0; i++)
		r = take_doc(w, file, (long)json_integer_value(json_array_get(lines, i)),
			     json_array_get(docs, i));
	json_decref(docs);
	json_decref(lines);
	return r;
}

static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
	struct walk *w = payload;
	/* blobs only: symlinks (their blob is a path) and submodules are skipped */
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK ||
	    !is_manifest(git_tree_entry_name(entry)))
		return 0;
	char file[1024];
	const char *base = w->g->path;
	snprintf(file, sizeof(file), "%s%s%s%s", base, *base ? "/" : "", root,
		 git_tree_entry_name(entry));
	if (++w->files > CTL_GITOPS_FILES_MAX) {
		fail_at(w->err, file, 0, "more than %d manifest files", CTL_GITOPS_FILES_MAX);
		w->r = -E2BIG;
		return -1;
	}
	git_blob *blob;
	if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(entry)) < 0) {
		fail_at(w->err, file, 0, "cannot read blob: %s", git_msg());
		w->r = -EIO;
		return -1;
	}
	size_t len = (size_t)git_blob_rawsize(blob);
	if (len > w->g->file_max) {
		fail_at(w->err, file, 0, "file larger than %zu bytes", w->g->file_max);
		w->r = -E2BIG;
	} else if (w->bytes + len > w->g->commit_max) {
		fail_at(w->err, file, 0, "manifests larger than %zu bytes in all",
			w->g->commit_max);
		w->r = -E2BIG;
	} else {
		w->bytes += len;
		w->r = take_file(w, file, git_blob_rawcontent(blob), len);
	}
	git_blob_free(blob);
	return w->r < 0 ? -1 : 0;
}

/* Every manifest under the configured path of @p commit, validated. */
static int read_commit(struct ctl_gitops *g, git_repository *repo, git_commit *commit,
		       json_t **ret_desired, struct sync_err *err)
{
	git_tree *root = NULL, *tree = NULL;
	git_tree_entry *te = NULL;
	int r = 0;
	if (git_commit_tree(&root, commit) < 0) {
		snprintf(err->reason, sizeof(err->reason), "cannot read tree: %s", git_msg());
		return -EIO;
	}
	if (*g->path) {
		if (git_tree_entry_bypath(&te, root, g->path) < 0 ||
		    git_tree_entry_type(te) != GIT_OBJECT_TREE ||
		    git_tree_lookup(&tree, repo, git_tree_entry_id(te)) < 0) {
			r = fail_at(err, g->path, 0, "no such folder in the commit");
			goto out;
		}
	} else {
		tree = root;
		root = NULL;
	}
	struct walk w = {.g = g, .repo = repo, .desired = json_object(), .err = err};
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w) < 0 && w.r == 0) {
		snprintf(err->reason, sizeof(err->reason), "cannot walk tree: %s", git_msg());
		w.r = -EIO;
	}
	if (w.r < 0) {
		json_decref(w.desired);
		r = w.r;
	} else {
		*ret_desired = w.desired;
	}
out:
	git_tree_entry_free(te);
	git_tree_free(tree);
	git_tree_free(root);
	return r;
}

/* ---- applying ---- */

static void now_str(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* Set our condition in @p obj's status (creating status/conditions). */
static void set_condition(json_t *obj, bool out_of_sync, const char *reason, const char *msg,
			  const char *commit)
{
	json_t *st = json_object_get(obj, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(obj, "status", st);
	}
	json_t *conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	char ts[32];
	now_str(ts, sizeof(ts));
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", CTL_GITOPS_COND, "status",
			      out_of_sync ? "True" : "False", "reason", reason, "message", msg,
			      "lastTransitionTime", ts);
	if (commit)
		json_object_set_new(c, "commit", json_string(commit));
	size_t i;
	json_t *x;
	json_array_foreach(conds, i, x)
	{
		const char *t = json_string_value(json_object_get(x, "type"));
		if (t && strcmp(t, CTL_GITOPS_COND) == 0) {
			json_array_set_new(conds, i, c);
			return;
		}
	}
	json_array_append_new(conds, c);
}

static const json_t *get_condition(const json_t *obj)
{
	const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	size_t i;
	json_t *x;
	json_array_foreach(conds, i, x)
	{
		const char *t = json_string_value(json_object_get(x, "type"));
		if (t && strcmp(t, CTL_GITOPS_COND) == 0)
			return x;
	}
	return NULL;
}

static bool is_managed(const json_t *obj)
{
	const char *v = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "annotations"),
		CTL_GITOPS_ANN_MANAGED));
	return v && strcmp(v, "gitops") == 0;
}

static bool same_field(const json_t *a, const json_t *b, const char *k)
{
	const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);
	if (!x || (json_is_object(x) && json_object_size(x) == 0))
		return !y || (json_is_object(y) && json_object_size(y) == 0);
	return y && json_equal(x, y);
}

struct counts {
	size_t created, updated, unchanged, pruned, healed;
};

/* Bring one object to its desired state; a conflicting writer gets one retry. */
static int apply_one(struct ctl_gitops *g, enum ctl_kind kind, const json_t *want,
		     const char *commit, struct counts *n)
{
	const char *name = ctl_obj_name(want);
	for (int attempt = 0; attempt < 3; attempt++) {
		json_t *live = NULL;
		int r = ctl_store_get(g->store, kind, name, &live);
		if (r == -ENOENT) {
			json_t *o = json_deep_copy(want);
			json_t *md = json_object_get(o, "metadata");
			char ts[32];
			now_str(ts, sizeof(ts));
			json_object_set_new(md, "generation", json_integer(1));
			json_object_set_new(md, "creationTimestamp", json_string(ts));
			set_condition(o, false, "Synced", "created from Git", commit);
			r = ctl_store_create(g->store, kind, o);
			json_decref(o);
			if (r == -EEXIST)
				continue;
			if (r == 0)
				n->created++;
			return r;
		}
		if (r < 0)
			return r;
		const json_t *wmd = json_object_get(want, "metadata");
		const json_t *lmd = json_object_get(live, "metadata");
		bool spec_same = same_field(want, live, "spec");
		bool md_same = same_field(wmd, lmd, "labels") && same_field(wmd, lmd, "annotations");
		const json_t *cond = get_condition(live);
		bool flagged = cond && strcmp(json_string_value(json_object_get(cond, "status"))
						      ? json_string_value(json_object_get(cond, "status"))
						      : "",
					      "True") == 0;
		if (spec_same && md_same && !flagged && cond) {
			json_decref(live);
			n->unchanged++;
			return 0;
		}
		bool drift = !spec_same && is_managed(live);
		json_t *o = json_deep_copy(live);
		json_t *md = json_object_get(o, "metadata");
		json_object_set(o, "spec", json_object_get(want, "spec"));
		json_t *labels = json_object_get(wmd, "labels");
		if (labels)
			json_object_set(md, "labels", labels);
		else
			json_object_del(md, "labels");
		json_object_set(md, "annotations", json_object_get(wmd, "annotations"));
		if (!spec_same)
			json_object_set_new(md, "generation",
					    json_integer(json_integer_value(
								 json_object_get(md, "generation")) +
							 1));
		char msg[160];
		snprintf(msg, sizeof(msg), "%s commit %.12s", drift ? "healed to" : "synced to",
			 commit);
		set_condition(o, false, "Synced", msg, commit);
		r = ctl_store_update(g->store, kind, o, ctl_obj_rv(live));
		json_decref(o);
		json_decref(live);
		if (r == -ESTALE || r == -ENOENT)
			continue;
		if (r == 0) {
			if (spec_same && md_same)
				n->unchanged++;
			else
				n->updated++;
			if (drift || flagged)
				n->healed++;
		}
		return r;
	}
	return -ESTALE;
}

static int prune(struct ctl_gitops *g, const json_t *desired, struct counts *n)
{
	for (int k = 0; k < CTL_KIND__COUNT; k++) {
		json_t *items = NULL;
		int more = 0;
		uint64_t rv;
		int r = ctl_store_list(g->store, (enum ctl_kind)k, NULL, NULL, 0, NULL, &items,
				       &more, &rv);
		if (r < 0)
			return r;
		size_t i;
		json_t *o;
		json_array_foreach(items, i, o)
		{
			if (!is_managed(o))
				continue;
			char key[CTL_NAME_MAX + 64];
			snprintf(key, sizeof(key), "%s/%s", ctl_kind_name((enum ctl_kind)k),
				 ctl_obj_name(o));
			if (json_object_get(desired, key))
				continue;
			r = ctl_store_delete(g->store, (enum ctl_kind)k, ctl_obj_name(o),
					     ctl_obj_rv(o), NULL);
			if (r == 0)
				n->pruned++;
			else if (r != -ENOENT && r != -ESTALE) {
				json_decref(items);
				return r;
			}
		}
		json_decref(items);
	}
	return 0;
}

static int apply_all(struct ctl_gitops *g, const json_t *desired, const char *commit,
		     struct counts *n, char *failed, size_t failed_len)
{
	/* kinds in dependency order: templates and releases before rollouts */
	static const enum ctl_kind order[] = {CTL_KIND_ANALYSIS_TEMPLATE, CTL_KIND_RELEASE,
					      CTL_KIND_GATEWAY, CTL_KIND_DEVICE, CTL_KIND_ROLLOUT};
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		const char *key;
		json_t *o;
		json_object_foreach((json_t *)desired, key, o)
		{
			if (strcmp(json_string_value(json_object_get(o, "kind")),
				   ctl_kind_name(order[k])) != 0)
				continue;
			int r = apply_one(g, order[k], o, commit, n);
			if (r < 0) {
				snprintf(failed, failed_len, "%s: %s", key, strerror(-r));
				return r;
			}
		}
	}
	int r = prune(g, desired, n);
	if (r < 0)
		snprintf(failed, failed_len, "prune: %s", strerror(-r));
	return r;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ctl_gitops_sync(struct ctl_gitops *g, json_t **ret_result)
{
	pthread_mutex_lock(&g->lock);
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	json_t *desired = NULL;
	struct sync_err err = {.line = 0};
	struct counts n = {0};
	char sha[GIT_OID_HEXSZ + 1] = "";
	char ts[32];
	now_str(ts, sizeof(ts));
	int r = fetch(g, &repo, &commit, err.reason, sizeof(err.reason));
	if (r == 0) {
		git_oid_tostr(sha, sizeof(sha), git_commit_id(commit));
		r = read_commit(g, repo, commit, &desired, &err);
	}
	if (r == 0) {
		r = apply_all(g, desired, sha, &n, err.reason, sizeof(err.reason));
		/* Even a partial apply changed the store: later drift checks use the new commit. */
		json_decref(g->desired);
		g->desired = json_incref(desired);
	}
	json_t *res = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "result",
				r == 0 ? "ok" : "error", "commit", sha, "branch", g->branch, "time",
				ts, "objects", (json_int_t)json_object_size(desired), "created",
				(json_int_t)n.created, "updated", (json_int_t)n.updated, "unchanged",
				(json_int_t)n.unchanged, "pruned", (json_int_t)n.pruned, "healed",
				(json_int_t)n.healed);
	if (r < 0)
		json_object_set_new(res, "error",
				    json_pack("{s:s, s:I, s:s}", "file", err.file, "line",
					      (json_int_t)err.line, "reason", err.reason));
	pthread_mutex_lock(&g->slock);
	if (desired)
		g->n_objects = json_object_size(desired);
	if (r == 0) {
		snprintf(g->commit, sizeof(g->commit), "%s", sha);
		g->out_of_sync = 0;
	}
	g->last_ts = now_s();
	if (r == 0) {
		g->n_ok++;
		g->last_ok_ts = g->last_ts;
	} else {
		g->n_error++;
	}
	json_decref(g->last);
	g->last = json_incref(res);
	pthread_mutex_unlock(&g->slock);
	pthread_mutex_unlock(&g->lock);
	json_decref(desired);
	git_commit_free(commit);
	git_repository_free(repo);
	if (ret_result)
		*ret_result = res;
	else
		json_decref(res);
	return r;
}

int ctl_gitops_check_drift(struct ctl_gitops *g, size_t *ret_n)
{
	pthread_mutex_lock(&g->lock);
	size_t n = 0;
	int r = 0;
	const char *key;
	json_t *want;
	json_object_foreach(g->desired, key, want)
	{
		int kind = ctl_kind_parse(json_string_value(json_object_get(want, "kind")));
		json_t *live = NULL;
		r = ctl_store_get(g->store, (enum ctl_kind)kind, ctl_obj_name(want), &live);
		if (r == -ENOENT) {
			n++; /* deleted outside Git: recreated by the next sync */
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (!same_field(want, live, "spec")) {
			n++;
			const json_t *c = get_condition(live);
			const char *cs = json_string_value(json_object_get(c, "status"));
			if (!cs || strcmp(cs, "True") != 0) {
				char msg[200];
				snprintf(msg, sizeof(msg), "live spec differs from Git commit %.12s",
					 g->commit);
				set_condition(live, true, "SpecDiffers", msg, g->commit);
				r = ctl_store_update(g->store, (enum ctl_kind)kind, live,
						     ctl_obj_rv(live));
				if (r == -ESTALE || r == -ENOENT)
					r = 0; /* changed again: the next check sees it */
			}
		}
		json_decref(live);
		if (r < 0)
			break;
	}
	pthread_mutex_lock(&g->slock);
	g->out_of_sync = n;
	pthread_mutex_unlock(&g->slock);
	pthread_mutex_unlock(&g->lock);
	if (ret_n)
		*ret_n = n;
	return r;
}

json_t *ctl_gitops_last(struct ctl_gitops *g)
{
	pthread_mutex_lock(&g->slock);
	json_t *j = json_deep_copy(g->last);
	pthread_mutex_unlock(&g->slock);
	return j;
}

/* ---- thread ---- */

static void *loop(void *arg)
{
	struct ctl_gitops *g = arg;
	double next_sync = 0, next_drift = now_s() + g->drift_s;
	pthread_mutex_lock(&g->tlock);
	while (!g->stop) {
		double t = now_s();
		bool kick = g->kick;
		bool may = !g->leader_only || ctl_store_is_leader(g->store);
		if (kick || (may && t >= next_sync)) {
			g->kick = false;
			pthread_mutex_unlock(&g->tlock);
			(void)ctl_gitops_sync(g, NULL);
			pthread_mutex_lock(&g->tlock);
			next_sync = now_s() + g->interval_s;
			continue;
		}
		if (may && t >= next_drift) {
			pthread_mutex_unlock(&g->tlock);
			(void)ctl_gitops_check_drift(g, NULL);
			pthread_mutex_lock(&g->tlock);
			next_drift = now_s() + g->drift_s;
			continue;
		}
		double wake = next_sync < next_drift ? next_sync : next_drift;
		if (!may)
			wake = t + 1;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double d = wake - t;
		if (d < 0.01)
			d = 0.01;
		ts.tv_sec += (time_t)d;
		ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cond, &g->tlock, &ts);
	}
	pthread_mutex_unlock(&g->tlock);
	return NULL;
}

int ctl_gitops_start(struct ctl_gitops *g, int interval_s, int drift_s)
{
	if (interval_s < 1 || drift_s < 1 || g->running)
		return -EINVAL;
	g->interval_s = interval_s;
	g->drift_s = drift_s;
	int r = pthread_create(&g->thread, NULL, loop, g);
	if (r)
		return -r;
	g->running = true;
	return 0;
}

void ctl_gitops_trigger(struct ctl_gitops *g)
{
	pthread_mutex_lock(&g->tlock);
	g->kick = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->tlock);
}

/* ---- metrics and server hooks ---- */

static void label_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void ctl_gitops_metrics(struct ctl_gitops *g, FILE *f)
{
	pthread_mutex_lock(&g->slock);
	fprintf(f, "# HELP flotilla_gitops_sync_total GitOps syncs by result.\n"
		   "# TYPE flotilla_gitops_sync_total counter\n"
		   "flotilla_gitops_sync_total{result=\"success\"} %lu\n"
		   "flotilla_gitops_sync_total{result=\"error\"} %lu\n",
		g->n_ok, g->n_error);
	fprintf(f, "# HELP flotilla_gitops_last_sync_timestamp_seconds Time of the last sync attempt.\n"
		   "# TYPE flotilla_gitops_last_sync_timestamp_seconds gauge\n"
		   "flotilla_gitops_last_sync_timestamp_seconds %.3f\n",
		g->last_ts);
	fprintf(f, "# HELP flotilla_gitops_last_success_timestamp_seconds Time of the last successful sync.\n"
		   "# TYPE flotilla_gitops_last_success_timestamp_seconds gauge\n"
		   "flotilla_gitops_last_success_timestamp_seconds %.3f\n",
		g->last_ok_ts);
	fprintf(f, "# HELP flotilla_gitops_commit_info The commit last applied whole.\n"
		   "# TYPE flotilla_gitops_commit_info gauge\n");
	if (g->commit[0]) {
		fprintf(f, "flotilla_gitops_commit_info{commit=\"%s\",branch=\"", g->commit);
		label_escape(f, g->branch);
		fprintf(f, "\"} 1\n");
	}
	fprintf(f, "# HELP flotilla_gitops_objects Objects in the last synced commit.\n"
		   "# TYPE flotilla_gitops_objects gauge\n"
		   "flotilla_gitops_objects %zu\n",
		g->n_objects);
	fprintf(f, "# HELP flotilla_gitops_out_of_sync_objects Managed objects whose live spec differs from Git.\n"
		   "# TYPE flotilla_gitops_out_of_sync_objects gauge\n"
		   "flotilla_gitops_out_of_sync_objects %zu\n",
		g->out_of_sync);
	pthread_mutex_unlock(&g->slock);
}

int ctl_gitops_sync_hook(void *ctx, bool run, json_t **ret_body)
{
	struct ctl_gitops *g = ctx;
	if (!run) {
		*ret_body = ctl_gitops_last(g);
		return 0;
	}
	return ctl_gitops_sync(g, ret_body);
}

void ctl_gitops_metrics_hook(void *ctx, FILE *f)
{
	ctl_gitops_metrics(ctx, f);
}
