/*
 * host_status: what qatkit finds on a host, as a table of QAT PFs and their VFs.
 *
 *     host_status [--sim STATE.json | --root DIR] [--json]
 *
 * Opens the running host by default, a simulated host's state file with --sim (made by
 * qatkit_sim_create or `qatctl sim create`), or a directory shaped like a host with --root.
 * It discovers the devices with qatkit_host_discover and prints, from the info structs, a line
 * per PF (address, family, driver, NUMA node, state, services, VFs offered and enabled) and
 * under it a line per VF (address, driver, IOMMU group, owner and mode of /dev/vfio/<group>),
 * then QAT VFs whose PF is not visible (inside a guest). --json prints instead the document
 * `qatctl status --json` prints (qatkit_host_status_json).
 *
 * Exit status: 0 done; 1 failed, after one line `host_status: MESSAGE` on standard error;
 * 2 bad usage.
 *
 * Build (C11):
 *     cc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude examples/c/host_status.c \
 *         target/debug/libqatkit.a -lpthread -ldl -lm -o host_status
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qatkit.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *to) {
    fputs("usage: host_status [--sim STATE.json | --root DIR] [--json]\n"
          "  --sim FILE  a simulated host's state file\n"
          "  --root DIR  a directory shaped like a host (its /sys, /dev, /proc)\n"
          "  --json      print qatctl's status document instead of the table\n",
          to);
}

/*
 * Prints `host_status: MESSAGE` with the message of this thread's last failed qatkit call (or
 * the short text of `result` when it has none); returns EXIT_FAILED.
 */
static int fail_qatkit(qatkit_result result) {
    char small[512];
    size_t len = 0;
    qatkit_result got = qatkit_last_error(small, sizeof small, &len);
    if (got == QATKIT_OK && len > 0) {
        fprintf(stderr, "host_status: %s\n", small);
    } else if (got == QATKIT_BUFFER_TOO_SMALL) {
        /* `len` is the size the message needs, NUL included. */
        char *big = malloc(len);
        if (big != NULL && qatkit_last_error(big, len, &len) == QATKIT_OK) {
            fprintf(stderr, "host_status: %s\n", big);
        } else {
            fprintf(stderr, "host_status: %s\n", qatkit_result_text(result));
        }
        free(big);
    } else {
        fprintf(stderr, "host_status: %s\n", qatkit_result_text(result));
    }
    return EXIT_FAILED;
}

/* `text`, or "-" when it is empty (an unbound device, a PF of no QAT family). */
static const char *or_dash(const char *text) {
    return text[0] != '\0' ? text : "-";
}

/* A number, or "-" when it is negative (no NUMA node, no IOMMU group), into `buf`. */
static const char *number_or_dash(int64_t value, char *buf, size_t len) {
    if (value < 0) {
        return "-";
    }
    snprintf(buf, len, "%" PRId64, value);
    return buf;
}

static const char *state_name(qatkit_state state) {
    switch (state) {
    case QATKIT_STATE_UP:
        return "up";
    case QATKIT_STATE_DOWN:
        return "down";
    default:
        return "-";
    }
}

/* The services as qatctl names them, joined by ';' (e.g. "sym;dc"), or "-" for none. */
static const char *services_text(qatkit_services services, char *buf, size_t len) {
    static const struct {
        qatkit_services bit;
        const char *name;
    } names[] = {
        {QATKIT_SERVICE_ASYM, "asym"}, {QATKIT_SERVICE_SYM, "sym"},
        {QATKIT_SERVICE_DC, "dc"},     {QATKIT_SERVICE_DCC, "dcc"},
        {QATKIT_SERVICE_DECOMP, "decomp"},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((services & names[i].bit) != 0 && used < len) {
            int n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ";" : "", names[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return used > 0 ? buf : "-";
}

/* One VF's line, indented under its PF (or not, for a guest's VF). */
static void print_vf(const qatkit_vf_info *vf, const char *indent) {
    char group[24], node[64];
    if (vf->vfio_node) {
        snprintf(node, sizeof node, "%04" PRIo32 " (uid %" PRIu32 ", gid %" PRIu32 ")",
                 vf->vfio_mode, vf->vfio_uid, vf->vfio_gid);
    } else {
        snprintf(node, sizeof node, "-");
    }
    printf("%s%-14s %-14s %-6s %s\n", indent, vf->bdf, or_dash(vf->driver),
           number_or_dash(vf->iommu_group, group, sizeof group), node);
}

/* The table of `discovery`. Returns the exit status. */
static int print_table(const qatkit_discovery *discovery) {
    size_t pfs = qatkit_discovery_pf_count(discovery);
    size_t guest_vfs = qatkit_discovery_guest_vf_count(discovery);
    if (pfs == 0 && guest_vfs == 0) {
        printf("no QAT devices found\n");
        return EXIT_OK;
    }
    if (pfs > 0) {
        printf("%-14s %-8s %-12s %-5s %-6s %-18s %-9s %s\n", "PF", "FAMILY", "DRIVER", "NUMA",
               "STATE", "SERVICES", "TOTALVFS", "NUMVFS");
    }
    for (size_t p = 0; p < pfs; p++) {
        qatkit_pf_info pf;
        qatkit_result result = qatkit_discovery_pf(discovery, p, &pf);
        if (result != QATKIT_OK) {
            return fail_qatkit(result);
        }
        char numa[24], services[64];
        printf("%-14s %-8s %-12s %-5s %-6s %-18s %-9u %u\n", pf.bdf, or_dash(pf.family),
               or_dash(pf.driver), number_or_dash(pf.numa_node, numa, sizeof numa),
               state_name(pf.state), services_text(pf.services, services, sizeof services),
               (unsigned)pf.sriov_totalvfs, (unsigned)pf.sriov_numvfs);
        if (pf.heartbeat == QATKIT_HEARTBEAT_FAILED) {
            printf("  (heartbeat failed: do not hand out this PF's VFs)\n");
        }
        if (pf.vf_count > 0) {
            printf("  %-14s %-14s %-6s %s\n", "VF", "DRIVER", "IOMMU", "VFIO NODE");
        }
        for (size_t v = 0; v < pf.vf_count; v++) {
            qatkit_vf_info vf;
            result = qatkit_discovery_vf(discovery, p, v, &vf);
            if (result != QATKIT_OK) {
                return fail_qatkit(result);
            }
            print_vf(&vf, "  ");
        }
    }
    if (guest_vfs > 0) {
        printf("%sQAT VFs without a visible PF:\n", pfs > 0 ? "\n" : "");
        printf("%-14s %-14s %-6s %s\n", "VF", "DRIVER", "IOMMU", "VFIO NODE");
        for (size_t v = 0; v < guest_vfs; v++) {
            qatkit_vf_info vf;
            qatkit_result result = qatkit_discovery_guest_vf(discovery, v, &vf);
            if (result != QATKIT_OK) {
                return fail_qatkit(result);
            }
            print_vf(&vf, "");
        }
    }
    return EXIT_OK;
}

/* qatctl's status document. Returns the exit status. */
static int print_json(const qatkit_host *host) {
    char *json = NULL;
    qatkit_result result = qatkit_host_status_json(host, &json);
    if (result != QATKIT_OK) {
        return fail_qatkit(result);
    }
    printf("%s\n", json);
    qatkit_string_free(json);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    const char *sim = NULL, *root = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--sim") == 0 && i + 1 < argc) {
            sim = argv[++i];
        } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else {
            fprintf(stderr, "host_status: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (sim != NULL && root != NULL) {
        fprintf(stderr, "host_status: --sim and --root exclude each other\n");
        usage(stderr);
        return EXIT_USAGE;
    }

    qatkit_host *host = NULL;
    qatkit_result result = sim != NULL    ? qatkit_host_open_sim(sim, &host)
                           : root != NULL ? qatkit_host_open_root(root, &host)
                                          : qatkit_host_open(&host);
    if (result != QATKIT_OK) {
        return fail_qatkit(result);
    }

    int status;
    if (json) {
        status = print_json(host);
    } else {
        /* Every QAT PF; no other SR-IOV PFs named (NULL, 0). */
        qatkit_discovery *discovery = NULL;
        result = qatkit_host_discover(host, NULL, 0, &discovery);
        status = result == QATKIT_OK ? print_table(discovery) : fail_qatkit(result);
        qatkit_discovery_free(discovery);
    }
    qatkit_host_free(host);
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        fprintf(stderr, "host_status: cannot write standard output\n");
        status = EXIT_FAILED;
    }
    return status;
}
