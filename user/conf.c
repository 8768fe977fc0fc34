// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf.conf(5): read, check and print the config file. Every value goes
 * through the parser the matching command-line option uses, so the file
 * accepts exactly what `crbpf attach`, `port add` and `home attach` accept.
 * The first error ends the parse with one line "FILE:LINE: what is wrong". */
#include "conf.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

enum section { SEC_NONE, SEC_EDGE, SEC_HOME };

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

/* The words of a Forward line. Parser errors print through usage_err(),
 * which log_where() has pointed at the line. */
int conf_forward_set(struct conf_forward *f, const char *words)
{
	const char *p;
	char *w;
	int n = 0, max = 1;

	free(f->text);
	free(f->argv);
	acl_args_free(&f->args.acl);
	f->argv = NULL;
	f->text = strdup(words);
	if (!f->text)
		return -ENOMEM;
	for (p = words; *p; p++)
		max += *p == ' ' || *p == '\t';
	f->argv = calloc(max + 1, sizeof(*f->argv));
	if (!f->argv)
		return -ENOMEM;
	for (w = strtok(f->text, " \t"); w; w = strtok(NULL, " \t"))
		f->argv[n++] = w;
	f->argv[n] = NULL;
	if (port_args_parse(n, f->argv, &f->args, true, false))
		return USAGE;
	if (f->args.dev)
		return usage_err("Forward takes no --dev: the section's Interface is the device");
	if (f->args.npos != 3)
		return usage_err("Forward needs PROTO { PORT[-LAST] | all } BACKEND [--except PORTS] [--addr PUBLIC] [--force] [--xdp-veth] [--allow PREFIX | --deny PREFIX | --allow-file FILE | --deny-file FILE]... [--limit-pps RATE[:BURST]] [--limit-flows RATE[:BURST]] [--limit-prefix V4LEN[,V6LEN]]");
	return port_add_spec(&f->args, &f->spec);
}

static int edge_key(struct conf *c, struct conf_edge *e, const char *key,
		    char *val, int line)
{
	struct crbpf_timeouts to = {};
	struct conf_forward *f;
	__u32 set = 0, v;
	size_t m;
	int i, n;

	if (!strcasecmp(key, "Interface")) {
		if (e->dev[0])
			return usage_err("Interface given twice in one [Edge] (%s)", e->dev);
		if (parse_iface(val))
			return USAGE;
		snprintf(e->dev, sizeof(e->dev), "%s", val);
	} else if (!strcasecmp(key, "Mode")) {
		if (e->mode_line)
			return usage_err("Mode given twice (first on line %d)", e->mode_line);
		for (m = 0; m < 4; m++)
			if (!strcmp(val, mode_names[m]))
				break;
		if (m == 4)
			return usage_err("invalid Mode '%s' (expected auto, native, generic or tc)",
					 val);
		e->mode = m;
		e->mode_line = line;
	} else if (!strcasecmp(key, "MSS")) {
		if (e->mss_line)
			return usage_err("MSS given twice (first on line %d)", e->mss_line);
		if (parse_mss(val, &e->mss))
			return usage_err("invalid MSS '%s' (expected auto, off or a number 536-65495)",
					 val);
		e->mss_line = line;
	} else if (!strcasecmp(key, "Flows")) {
		if (parse_flows("Flows", val, &v))
			return USAGE;
		if (c->flows_line && c->flows != v)
			return usage_err("Flows = %u differs from Flows = %u on line %d (all edges share one flow table)",
					 v, c->flows, c->flows_line);
		c->flows = v;
		c->flows_line = line;
	} else if (!strcasecmp(key, "Timeout")) {
		/* "tcp=3600, udp=60": --timeout's syntax, blanks allowed. */
		for (i = 0, n = 0; val[i]; i++)
			if (!isspace((unsigned char)val[i]))
				val[n++] = val[i];
		val[n] = 0;
		if (timeouts_parse(val, &to, &set))
			return USAGE;
		for (i = 0; i < CONF_TIMEOUTS; i++) {
			if (!(set & (1U << i)))
				continue;
			if ((c->to_set & (1U << i)) &&
			    timeout_value(&c->to, i) != timeout_value(&to, i))
				return usage_err("Timeout %s differs from line %d (all edges share one flow table)",
						 timeout_name(i), c->to_line[i]);
			c->to_set |= 1U << i;
			c->to_line[i] = line;
		}
		/* Sets only the names given: cannot fail the second time. */
		timeouts_parse(val, &c->to, &set);
	} else if (!strcasecmp(key, "Allow") || !strcasecmp(key, "Deny")) {
		struct acl_list *l = &c->acl.list[toupper(key[0]) == 'D'];
		char *save = NULL, *w;

		c->acl.given[toupper(key[0]) == 'D'] = true;
		for (w = strtok_r(val, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
			if (acl_list_add_prefix(l, w))
				return USAGE;
	} else if (!strcasecmp(key, "AllowFile") || !strcasecmp(key, "DenyFile")) {
		c->acl.given[toupper(key[0]) == 'D'] = true;
		if (acl_list_add_file(&c->acl.list[toupper(key[0]) == 'D'], val))
			return USAGE;
	} else if (!strcasecmp(key, "Forward")) {
		f = realloc(e->fwd, (e->nfwd + 1) * sizeof(*f));
		if (!f)
			return -ENOMEM;
		e->fwd = f;
		f = &e->fwd[e->nfwd++];
		memset(f, 0, sizeof(*f));
		f->line = line;
		return conf_forward_set(f, val);
	} else {
		return usage_err("unknown key '%s' in [Edge] (expected Interface, Mode, Flows, Timeout, MSS, Allow, Deny, AllowFile, DenyFile or Forward)",
				 key);
	}
	return 0;
}

static int home_key(struct conf_home *h, const char *key, char *val, int line)
{
	char *argv[3] = { "--table", val, "home" }, *item, *save = NULL;
	struct home_args a;
	int i;

	if (!strcasecmp(key, "Tunnel")) {
		if (h->tunnel[0])
			return usage_err("Tunnel given twice in one [Home] (%s)", h->tunnel);
		if (parse_iface(val))
			return USAGE;
		snprintf(h->tunnel, sizeof(h->tunnel), "%s", val);
	} else if (!strcasecmp(key, "Serve")) {
		for (item = strtok_r(val, ",", &save); item;
		     item = strtok_r(NULL, ",", &save)) {
			item = trim(item);
			if (parse_iface(item))
				return USAGE;
			for (i = 0; i < h->nserve; i++)
				if (!strcmp(h->serve[i], item))
					break;
			if (i < h->nserve)
				continue;
			if (h->nserve == HOME_MAX_SERVE)
				return usage_err("at most %d Serve devices", HOME_MAX_SERVE);
			snprintf(h->serve[h->nserve++], IF_NAMESIZE, "%s", item);
		}
		if (!h->nserve)
			return usage_err("Serve needs devices (IFACE[, IFACE]...)");
	} else if (!strcasecmp(key, "Table") || !strcasecmp(key, "Mark")) {
		bool table = !strcasecmp(key, "Table");
		int *first = table ? &h->table_line : &h->mark_line;

		if (*first)
			return usage_err("%s given twice (first on line %d)", key, *first);
		/* The checks and messages of home attach --table / --mark. */
		argv[0] = table ? "--table" : "--mark";
		if (parse_home_attach(3, argv, &a))
			return USAGE;
		if (table)
			h->table = a.table;
		else
			h->mark = a.mark;
		*first = line;
	} else {
		return usage_err("unknown key '%s' in [Home] (expected Tunnel, Serve, Table or Mark)",
				 key);
	}
	return 0;
}

static bool range_overlap(const struct port_spec *a, const struct port_spec *b)
{
	return a->proto == b->proto && a->all == b->all &&
	       a->be.family == b->be.family &&
	       !memcmp(&a->paddr, &b->paddr, sizeof(a->paddr)) &&
	       a->first <= b->last && b->first <= a->last;
}

/* What only the whole file shows: a device named twice, forwards that
 * would map the same public port twice, a bridge served by two tunnels. */
static int conf_check(const char *path, struct conf *c)
{
	int i, j, k, l;

	for (i = 0; i < c->nedge; i++) {
		struct conf_edge *e = &c->edge[i];

		for (j = 0; j < i; j++)
			if (!strcmp(c->edge[j].dev, e->dev)) {
				log_where(path, e->line);
				return usage_err("[Edge] for %s again (first on line %d)",
						 e->dev, c->edge[j].line);
			}
		for (j = 0; j < e->nfwd; j++)
			for (k = 0; k < j; k++) {
				const struct port_spec *a = &e->fwd[k].spec;

				if (!range_overlap(a, &e->fwd[j].spec))
					continue;
				log_where(path, e->fwd[j].line);
				if (a->all)
					return usage_err("a second '%s all' for the same family and address (first on line %d)",
							 proto_str(a->proto), e->fwd[k].line);
				return usage_err("%s %s overlaps the Forward on line %d (%s %s)",
						 proto_str(a->proto), e->fwd[j].args.pos[1],
						 e->fwd[k].line, proto_str(a->proto),
						 e->fwd[k].args.pos[1]);
			}
	}
	for (i = 0; i < c->nhome; i++) {
		struct conf_home *h = &c->home[i];

		for (j = 0; j < i; j++) {
			if (!strcmp(c->home[j].tunnel, h->tunnel)) {
				log_where(path, h->line);
				return usage_err("[Home] for %s again (first on line %d)",
						 h->tunnel, c->home[j].line);
			}
			for (k = 0; k < h->nserve; k++)
				for (l = 0; l < c->home[j].nserve; l++)
					if (!strcmp(h->serve[k], c->home[j].serve[l])) {
						log_where(path, h->line);
						return usage_err("%s is served by tunnel %s already (line %d)",
								 h->serve[k], c->home[j].tunnel,
								 c->home[j].line);
					}
		}
	}
	return 0;
}

static int section_end(enum section sec, struct conf *c)
{
	if (sec == SEC_EDGE && !c->edge[c->nedge - 1].dev[0])
		return usage_err("[Edge] without Interface");
	if (sec == SEC_HOME && !c->home[c->nhome - 1].tunnel[0])
		return usage_err("[Home] without Tunnel");
	return 0;
}

static int section_begin(const char *name, struct conf *c, int line,
			 enum section *sec)
{
	void *p;

	if (!strcasecmp(name, "[Edge]")) {
		p = realloc(c->edge, (c->nedge + 1) * sizeof(*c->edge));
		if (!p)
			return -ENOMEM;
		c->edge = p;
		memset(&c->edge[c->nedge], 0, sizeof(*c->edge));
		c->edge[c->nedge].line = line;
		c->nedge++;
		*sec = SEC_EDGE;
	} else if (!strcasecmp(name, "[Home]")) {
		p = realloc(c->home, (c->nhome + 1) * sizeof(*c->home));
		if (!p)
			return -ENOMEM;
		c->home = p;
		memset(&c->home[c->nhome], 0, sizeof(*c->home));
		c->home[c->nhome].line = line;
		c->home[c->nhome].table = CRBPF_HOME_TABLE_DEFAULT;
		c->home[c->nhome].mark = CRBPF_HOME_MARK_DEFAULT;
		c->nhome++;
		*sec = SEC_HOME;
	} else {
		return usage_err("unknown section %s (expected [Edge] or [Home])", name);
	}
	return 0;
}

/* 0, USAGE (the message printed) or -errno. On success c holds the file. */
int conf_parse(const char *path, struct conf *c)
{
	enum section sec = SEC_NONE;
	char *buf = NULL, *s, *eq, *key, *val;
	int line = 0, sec_line = 0, ret = 0;
	size_t cap = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		err("cannot read %s: %s", path, strerror(errno));
		return ret;
	}
	while (!ret && getline(&buf, &cap, f) >= 0) {
		line++;
		log_where(path, line);
		s = strchr(buf, '#');
		if (s)
			*s = 0;
		s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[') {
			if (s[strlen(s) - 1] != ']') {
				ret = usage_err("bad section header '%s' (expected [Edge] or [Home])", s);
				break;
			}
			if (sec != SEC_NONE) {
				log_where(path, sec_line);
				ret = section_end(sec, c);
				log_where(path, line);
				if (ret)
					break;
			}
			ret = section_begin(s, c, line, &sec);
			sec_line = line;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			ret = usage_err("expected 'Key = Value' or a [Section], got '%s'", s);
			break;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		if (!*key) {
			ret = usage_err("a value without a key");
			break;
		}
		if (sec == SEC_NONE) {
			ret = usage_err("%s outside of a section ([Edge] or [Home] first)", key);
			break;
		}
		if (!*val) {
			ret = usage_err("%s has no value", key);
			break;
		}
		if (sec == SEC_EDGE)
			ret = edge_key(c, &c->edge[c->nedge - 1], key, val, line);
		else
			ret = home_key(&c->home[c->nhome - 1], key, val, line);
	}
	if (!ret && ferror(f)) {
		ret = -EIO;
		log_where(NULL, 0);
		err("cannot read %s: %s", path, strerror(EIO));
	}
	if (!ret && sec != SEC_NONE) {
		log_where(path, sec_line);
		ret = section_end(sec, c);
	}
	if (!ret)
		ret = conf_check(path, c);
	log_where(NULL, 0);
	free(buf);
	fclose(f);
	if (ret)
		conf_free(c);
	return ret;
}

void conf_free(struct conf *c)
{
	int i, j;

	for (i = 0; i < c->nedge; i++) {
		for (j = 0; j < c->edge[i].nfwd; j++) {
			free(c->edge[i].fwd[j].text);
			free(c->edge[i].fwd[j].argv);
			acl_args_free(&c->edge[i].fwd[j].args.acl);
		}
		free(c->edge[i].fwd);
	}
	free(c->edge);
	free(c->home);
	acl_args_free(&c->acl);
	memset(c, 0, sizeof(*c));
}

/* Canonical text: what is not a default, in a fixed order. Flows and
 * Timeout go into the first [Edge]: they are shared by all. */
void conf_write(FILE *f, const struct conf *c)
{
	char pbuf[INET6_ADDRSTRLEN + 8];
	int i, j, k, n;

	for (i = 0; i < c->nedge; i++) {
		const struct conf_edge *e = &c->edge[i];

		fprintf(f, "%s[Edge]\nInterface = %s\n", i ? "\n" : "", e->dev);
		if (e->mode != MODE_AUTO)
			fprintf(f, "Mode = %s\n", mode_names[e->mode]);
		if (!i && c->flows)
			fprintf(f, "Flows = %u\n", c->flows);
		if (!i && c->to_set) {
			fprintf(f, "Timeout = ");
			for (k = 0, n = 0; k < CONF_TIMEOUTS; k++)
				if (c->to_set & (1U << k))
					fprintf(f, "%s%s=%u", n++ ? ", " : "",
						timeout_name(k), timeout_value(&c->to, k));
			fputc('\n', f);
		}
		/* the global lists, as Flows, in the first [Edge] */
		for (k = 0; !i && k < 2; k++)
			for (n = 0; n < c->acl.list[k].n; n++)
				fprintf(f, "%s = %s\n", k ? "Deny" : "Allow",
					acl_key_str(&c->acl.list[k].k[n], pbuf,
						    sizeof(pbuf)));
		if (e->mss.set && e->mss.cfg.mode == CRBPF_MSS_OFF)
			fprintf(f, "MSS = off\n");
		else if (e->mss.set && e->mss.cfg.mode == CRBPF_MSS_FIXED)
			fprintf(f, "MSS = %u\n", e->mss.cfg.mss);
		for (j = 0; j < e->nfwd; j++) {
			fprintf(f, "Forward =");
			for (k = 0; e->fwd[j].argv[k]; k++)
				fprintf(f, " %s", e->fwd[j].argv[k]);
			fputc('\n', f);
		}
	}
	for (i = 0; i < c->nhome; i++) {
		const struct conf_home *h = &c->home[i];

		fprintf(f, "%s[Home]\nTunnel = %s\n", i || c->nedge ? "\n" : "",
			h->tunnel);
		for (j = 0; j < h->nserve; j++)
			fprintf(f, "%s%s", j ? ", " : "Serve = ", h->serve[j]);
		if (h->nserve)
			fputc('\n', f);
		if (h->table != CRBPF_HOME_TABLE_DEFAULT)
			fprintf(f, "Table = %u\n", h->table);
		if (h->mark != CRBPF_HOME_MARK_DEFAULT)
			fprintf(f, "Mark = 0x%x\n", h->mark);
	}
}
