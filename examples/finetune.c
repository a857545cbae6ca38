/* finetune: tunes CLIP's text encoder so that cosine similarity follows
 * Wu-Palmer similarity on WordNet noun pairs, using only the public API.
 * Run with --help for the options. */
#include <clipt.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* Set by SIGINT and SIGTERM; the loop saves a resumable state and stops. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct options {
    const char *model_dir, *preset, *tokenizer_path;
    const char *device, *out_dir, *schedule, *save_dtype;
    example_data_options data;
    double lr, weight_decay, lambda, minutes, epochs;
    long long steps, warmup, eval_every, eval_pairs;
    int pairs, train_top, threads, resume, plot, lr_set, lambda_set;
    unsigned long long init_seed, eval_seed;
} options;

static void usage(FILE *f)
{
    fprintf(f,
"usage: finetune [options]\n"
"Tunes CLIP's text encoder so that cosine similarity between word embeddings\n"
"follows Wu-Palmer similarity on WordNet noun pairs, and reports held-out\n"
"correlation before, during and after.\n"
"\n"
"Model (one of):\n"
"  --model DIR          Hugging Face CLIP checkpoint directory (config.json,\n"
"                       model.safetensors; vocab.json + merges.txt if present)\n"
"  --preset NAME        random CLIP initialisation: small or vit-b-32\n"
"                       (default small when --model is not given)\n"
"  --init-seed N        seed of the random initialisation (default 0)\n"
"  --tokenizer PATH     merges .gz or a directory with vocab.json + merges.txt\n"
"                       (default: the model directory's, else\n"
"                       data/bpe_simple_vocab_16e6.txt.gz)\n"
"Data:\n"
"  --wordnet DIR        WordNet 3.0 dict directory (default $WNSEARCHDIR, else\n"
"                       /usr/share/wordnet)\n"
"  --root SYNSET        train on the subtree under SYNSET (dog.n.01 or n02084071)\n"
"  --wnid-file FILE     train on the synsets listed, one wnid per line\n"
"                       (default: every noun)\n"
"  --mix S,H,O,C,R      relation weights: synonyms, hypernyms, hyponyms,\n"
"                       co-hyponyms, random pairs (default 0.2,0.15,0.15,0.2,0.3)\n"
"  --template TEXT      text template with one {} (default \"{}\"), for example\n"
"                       \"a photo of a {}.\"\n"
"  --held-out F         share of synsets held out for evaluation (default 0.1)\n"
"  --split-seed N       seed of the train/held-out split (default 1234)\n"
"  --textbook-wup       targets by the textbook Wu-Palmer (default: NLTK's)\n"
"Length (one of these; default --minutes 8):\n"
"  --steps N            optimizer steps\n"
"  --epochs X           passes over the training texts (each pair has two)\n"
"  --minutes M          training time budget in minutes, evaluation excluded;\n"
"                       the step count is fixed after 20 timed steps\n"
"Optimisation:\n"
"  --pairs N            pairs per batch (default 256)\n"
"  --lr X               peak learning rate (default 1e-3 with --preset, 1e-5\n"
"                       with --model)\n"
"  --warmup N           warm-up steps (default 100)\n"
"  --schedule NAME      cosine or constant after warm-up (default cosine)\n"
"  --weight-decay X     AdamW weight decay on weight matrices (default 0.01)\n"
"  --lambda X           weight of MSE(M(w), M0(w)) (default 0 with --preset,\n"
"                       1 with --model)\n"
"  --train-top K        train only the top K blocks, final LayerNorm and\n"
"                       projection (default: every tensor)\n"
"  --seed N             seed of the pair draws (default 0)\n"
"Device:\n"
"  --device DEV         cpu, cuda, cuda:N or auto (default auto)\n"
"  --threads N          CPU threads, 0 = all (default 0)\n"
"Output:\n"
"  --out DIR            output directory (default out/finetune)\n"
"  --eval-every N       evaluate every N steps (default 100)\n"
"  --eval-pairs N       held-out evaluation pairs (default 3000)\n"
"  --eval-seed N        seed of the evaluation pairs (default 7)\n"
"  --save-dtype T       f32, f16 or bf16 for the saved model (default f32)\n"
"  --no-plot            do not run gnuplot\n"
"  --resume             continue from DIR/state.clipt\n"
"\n"
"Writes DIR/train.csv (one row per step), DIR/eval.csv (one row per\n"
"evaluation), DIR/curves.png (gnuplot), DIR/state.clipt (resumable state,\n"
"also written on Ctrl-C), DIR/m0_cache.clipt and the tuned model in\n"
"DIR/model/ as a Hugging Face CLIPTextModelWithProjection directory.\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    example_data_defaults(&o->data);
    o->device = "auto";
    o->out_dir = "out/finetune";
    o->schedule = "cosine";
    o->save_dtype = "f32";
    o->weight_decay = 0.01;
    o->warmup = 100;
    o->eval_every = 100;
    o->eval_pairs = 3000;
    o->pairs = 256;
    o->train_top = -1;
    o->plot = 1;
    o->eval_seed = 7;
    o->steps = -1;
    o->epochs = -1;
    o->minutes = -1;
    const char *P = "finetune";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        int bad = 0;
#define TAKE(name) (strcmp(a, name) == 0 && v != NULL && (++i, 1))
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (TAKE("--model")) o->model_dir = v;
        else if (TAKE("--preset")) o->preset = v;
        else if (TAKE("--init-seed")) bad = example_parse_seed(P, a, v, &o->init_seed);
        else if (TAKE("--tokenizer")) o->tokenizer_path = v;
        else if (TAKE("--wordnet")) o->data.wordnet_dir = v;
        else if (TAKE("--root")) o->data.root = v;
        else if (TAKE("--wnid-file")) o->data.wnid_file = v;
        else if (TAKE("--mix")) {
            if (example_parse_mix(v, o->data.weights) != 0) {
                fprintf(stderr, "finetune: --mix needs five weights >= 0 separated by commas, "
                                "got \"%s\"\n", v);
                return -1;
            }
        } else if (TAKE("--template")) o->data.template_text = v;
        else if (TAKE("--held-out")) bad = example_parse_double(P, a, v, 0.0, 0.99, &o->data.held_out);
        else if (TAKE("--split-seed")) bad = example_parse_seed(P, a, v, &o->data.split_seed);
        else if (!strcmp(a, "--textbook-wup")) o->data.textbook = 1;
        else if (TAKE("--steps")) bad = example_parse_int(P, a, v, 1, 1000000000, &o->steps);
        else if (TAKE("--epochs")) bad = example_parse_double(P, a, v, 1e-9, 1e6, &o->epochs);
        else if (TAKE("--minutes")) bad = example_parse_double(P, a, v, 1e-3, 1e6, &o->minutes);
        else if (TAKE("--pairs")) {
            bad = example_parse_int(P, a, v, 1, 1000000, &n);
            o->pairs = (int)n;
        } else if (TAKE("--lr")) {
            bad = example_parse_double(P, a, v, 0.0, 10.0, &o->lr);
            o->lr_set = 1;
        } else if (TAKE("--warmup")) bad = example_parse_int(P, a, v, 0, 1000000000, &o->warmup);
        else if (TAKE("--schedule")) o->schedule = v;
        else if (TAKE("--weight-decay")) bad = example_parse_double(P, a, v, 0.0, 1e6, &o->weight_decay);
        else if (TAKE("--lambda")) {
            bad = example_parse_double(P, a, v, 0.0, 1e30, &o->lambda);
            o->lambda_set = 1;
        } else if (TAKE("--train-top")) {
            bad = example_parse_int(P, a, v, 0, 100000, &n);
            o->train_top = (int)n;
        } else if (TAKE("--seed")) bad = example_parse_seed(P, a, v, &o->data.seed);
        else if (TAKE("--device")) o->device = v;
        else if (TAKE("--threads")) {
            bad = example_parse_int(P, a, v, 0, CLIPT_MAX_THREADS, &n);
            o->threads = (int)n;
        } else if (TAKE("--out")) o->out_dir = v;
        else if (TAKE("--eval-every")) bad = example_parse_int(P, a, v, 1, 1000000000, &o->eval_every);
        else if (TAKE("--eval-pairs")) bad = example_parse_int(P, a, v, 10, 10000000, &o->eval_pairs);
        else if (TAKE("--eval-seed")) bad = example_parse_seed(P, a, v, &o->eval_seed);
        else if (TAKE("--save-dtype")) o->save_dtype = v;
        else if (!strcmp(a, "--no-plot")) o->plot = 0;
        else if (!strcmp(a, "--resume")) o->resume = 1;
        else {
            fprintf(stderr, "finetune: unknown or incomplete option \"%s\"; see --help\n", a);
            return -1;
        }
        if (bad) return -1;
#undef TAKE
    }
    if (o->model_dir != NULL && o->preset != NULL) {
        fprintf(stderr, "finetune: give --model or --preset, not both\n");
        return -1;
    }
    if (o->model_dir == NULL && o->preset == NULL) o->preset = "small";
    if (!o->lr_set) o->lr = o->model_dir != NULL ? 1e-5 : 1e-3;
    if (!o->lambda_set) o->lambda = o->model_dir != NULL ? 1.0 : 0.0;
    if ((o->steps > 0) + (o->epochs > 0) + (o->minutes > 0) > 1) {
        fprintf(stderr, "finetune: give one of --steps, --epochs and --minutes\n");
        return -1;
    }
    if (o->steps < 0 && o->epochs < 0 && o->minutes < 0) o->minutes = 8.0;
    if (o->data.root != NULL && o->data.wnid_file != NULL) {
        fprintf(stderr, "finetune: give --root or --wnid-file, not both\n");
        return -1;
    }
    if (example_check_template("finetune", o->data.template_text) != 0) return -1;
    if (strcmp(o->schedule, "cosine") != 0 && strcmp(o->schedule, "constant") != 0) {
        fprintf(stderr, "finetune: --schedule is \"%s\"; use cosine or constant\n", o->schedule);
        return -1;
    }
    if (strcmp(o->save_dtype, "f32") && strcmp(o->save_dtype, "f16") &&
        strcmp(o->save_dtype, "bf16")) {
        fprintf(stderr, "finetune: --save-dtype is \"%s\"; use f32, f16 or bf16\n", o->save_dtype);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Output files                                                             */
/* ------------------------------------------------------------------------ */

/* The program's section of the state file: the run's schedule and position. */
typedef struct run_record {
    uint32_t version;
    uint32_t calibrated;       /* total_steps fixed from timing */
    int64_t total_steps;
    double train_seconds;      /* training time so far, evaluation excluded */
    clipt_sampler_state sampler;
    /* "option=value" lines of the settings a resumed run must keep */
    char settings[2048];
} run_record;

#define RUN_RECORD_VERSION 2

/* Writes the options that decide the model, the data and the split as
 * "option=value" lines, so --resume can refuse a changed one. */
static void describe_settings(const options *o, char *buf, size_t size)
{
    const example_data_options *d = &o->data;
    snprintf(buf, size,
             "--model=%s\n--preset=%s\n--init-seed=%llu\n--wordnet=%s\n--root=%s\n"
             "--wnid-file=%s\n--mix=%g,%g,%g,%g,%g\n--template=%s\n--held-out=%g\n"
             "--split-seed=%llu\n--textbook-wup=%d\n--seed=%llu\n--pairs=%d\n--lr=%g\n"
             "--lambda=%g\n--train-top=%d\n",
             o->model_dir ? o->model_dir : "", o->model_dir ? "" : o->preset, o->init_seed,
             d->wordnet_dir ? d->wordnet_dir : "", d->root ? d->root : "",
             d->wnid_file ? d->wnid_file : "", d->weights[0], d->weights[1], d->weights[2],
             d->weights[3], d->weights[4], d->template_text, d->held_out, d->split_seed,
             d->textbook, d->seed, o->pairs, o->lr, o->lambda, o->train_top);
}

/* Compares saved and current settings; prints the first difference and
 * returns -1, or returns 0 when they agree. */
static int compare_settings(const char *saved, const char *current)
{
    while (*saved || *current) {
        size_t ls = strcspn(saved, "\n"), lc = strcspn(current, "\n");
        if (ls != lc || strncmp(saved, current, ls) != 0) {
            fprintf(stderr, "finetune: --resume with a changed setting: the run was started with "
                            "%.*s, this command gives %.*s; use the original value or a new --out\n",
                    (int)ls, saved, (int)lc, current);
            return -1;
        }
        saved += ls + (saved[ls] == '\n');
        current += lc + (current[lc] == '\n');
    }
    return 0;
}

static int make_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

static FILE *open_csv(const char *dir, const char *name, const char *header, int append)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, append ? "a" : "w");
    if (f != NULL && !append) fprintf(f, "%s\n", header);
    if (f == NULL) fprintf(stderr, "finetune: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static void write_eval_row(FILE *f, int64_t step, double train_seconds, const clipt_eval_stats *e)
{
    if (f == NULL) return;
    fprintf(f, "%lld,%.2f,%.6f,%.6f,%.6f,%.6f", (long long)step, train_seconds, e->spearman,
            e->pearson, e->distance, e->drift);
    for (int k = 0; k < CLIPT_RELATION_COUNT; k++) fprintf(f, ",%.6f", e->kind_spearman[k]);
    fprintf(f, "\n");
    fflush(f);
}

/* Writes s as a gnuplot single-quoted string, in which '' stands for '. */
static void gnuplot_string(FILE *f, const char *dir, const char *name)
{
    fputc('\'', f);
    for (const char *p = dir; *p; p++) {
        if (*p == '\'') fputc('\'', f);
        fputc(*p, f);
    }
    fprintf(f, "/%s'", name);
}

/* Draws the training loss (mean of the last 20 steps) and the held-out
 * Spearman correlation over steps into DIR/curves.png with gnuplot, run
 * without a shell so the directory name is never interpreted. */
static void plot_curves(const char *dir)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/curves.gp", dir);
    FILE *f = fopen(script, "w");
    if (f == NULL) {
        printf("cannot write %s: %s; no plot\n", script, strerror(errno));
        return;
    }
    fprintf(f, "set terminal pngcairo size 1000,600 noenhanced\nset output ");
    gnuplot_string(f, dir, "curves.png");
    fprintf(f, "\nset datafile separator ','\n"
               "set key top center\n"
               "set xlabel 'step'\n"
               "set ylabel 'training loss, mean of 20 steps'\n"
               "set y2label 'held-out Spearman'\n"
               "set ytics nomirror\n"
               "set y2tics\n"
               "set grid\n"
               "plot ");
    gnuplot_string(f, dir, "train.csv");
    fprintf(f, " using 1:4 skip 1 with lines lw 1 title 'training loss', \\\n     ");
    gnuplot_string(f, dir, "eval.csv");
    fprintf(f, " using 1:3 skip 1 axes x1y2 with linespoints lw 2 pt 7 "
               "title 'held-out Spearman'\n");
    if (fclose(f) != 0) {
        printf("cannot write %s; no plot\n", script);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        printf("gnuplot failed or is missing (install gnuplot-nox); plot %s by hand\n", script);
    } else {
        printf("plot: %s/curves.png\n", dir);
    }
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void format_duration(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600) snprintf(buf, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
}

/* Everything one run holds, so that cleanup is one function. */
typedef struct run {
    clipt_context *ctx;
    clipt_model *model;
    clipt_tokenizer *tok;
    clipt_wordnet *wn;
    clipt_sampler *sampler;
    clipt_trainer *trainer;
    clipt_pair *batch, *eval;
    FILE *train_csv, *eval_csv;
} run;

static void run_free(run *r)
{
    if (r->train_csv != NULL) fclose(r->train_csv);
    if (r->eval_csv != NULL) fclose(r->eval_csv);
    free(r->batch);
    free(r->eval);
    clipt_trainer_free(r->trainer);
    clipt_sampler_free(r->sampler);
    clipt_wordnet_free(r->wn);
    clipt_tokenizer_free(r->tok);
    clipt_model_free(r->model);
    clipt_context_free(r->ctx);
}

/* Writes state.clipt and m0_cache.clipt; returns 0 on success. */
static int save_state(run *r, const options *o, const run_record *rec)
{
    char path[4096];
    run_record copy = *rec;
    clipt_status st = clipt_sampler_get_state(r->sampler, &copy.sampler);
    snprintf(path, sizeof path, "%s/state.clipt", o->out_dir);
    if (st == CLIPT_OK) st = clipt_trainer_save_state(r->trainer, path, &copy, sizeof copy);
    if (st != CLIPT_OK) return example_fail("finetune", "saving the training state", st);
    {
        snprintf(path, sizeof path, "%s/m0_cache.clipt", o->out_dir);
        st = clipt_trainer_save_cache(r->trainer, path);
        if (st != CLIPT_OK) return example_fail("finetune", "saving the M0 cache", st);
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    if (make_dir(o.out_dir) != 0) {
        fprintf(stderr, "finetune: cannot create %s: %s\n", o.out_dir, strerror(errno));
        return 1;
    }
    run r;
    memset(&r, 0, sizeof r);
    clipt_status st;
    char tok_path[4096], desc[256];
    int rc = 1;

    /* ---- model, tokenizer, WordNet, sampler ---- */
    if ((st = example_open_context(o.device, o.threads, &r.ctx)) != CLIPT_OK) {
        rc = example_fail("finetune", "opening the device", st);
        goto done;
    }
    if ((st = example_open_model(r.ctx, o.model_dir, o.preset, o.init_seed, &r.model)) != CLIPT_OK) {
        rc = example_fail("finetune", o.model_dir ? "loading the model" : "creating the model", st);
        goto done;
    }
    st = example_open_tokenizer(o.tokenizer_path, o.model_dir, &r.tok, tok_path, sizeof tok_path);
    if (st != CLIPT_OK) {
        fprintf(stderr, "finetune: the tokenizer is read from %s; run scripts/setup to install "
                        "CLIP's merges file, or pass --tokenizer\n", tok_path);
        rc = example_fail("finetune", "loading the tokenizer", st);
        goto done;
    }
    if ((st = clipt_wordnet_load(o.data.wordnet_dir, &r.wn)) != CLIPT_OK) {
        rc = example_fail("finetune", "loading WordNet (install wordnet-base or pass --wordnet)", st);
        goto done;
    }
    if ((st = example_open_sampler(r.wn, &o.data, &r.sampler)) != CLIPT_OK) {
        rc = example_fail("finetune", "preparing the pair sampler", st);
        goto done;
    }
    clipt_split_info train_info, held_info;
    clipt_sampler_split_info(r.sampler, CLIPT_SPLIT_TRAIN, &train_info);
    clipt_sampler_split_info(r.sampler, CLIPT_SPLIT_HELD_OUT, &held_info);
    r.batch = calloc((size_t)o.pairs, sizeof(clipt_pair));
    r.eval = calloc((size_t)o.eval_pairs, sizeof(clipt_pair));
    if (r.batch == NULL || r.eval == NULL) {
        fprintf(stderr, "finetune: out of memory for %d + %lld pairs\n", o.pairs, o.eval_pairs);
        goto done;
    }
    if ((st = clipt_sampler_eval_pairs(r.sampler, o.eval_seed, r.eval, (size_t)o.eval_pairs)) !=
        CLIPT_OK) {
        rc = example_fail("finetune", "drawing the held-out evaluation pairs", st);
        goto done;
    }

    /* ---- schedule length ---- */
    int64_t total_steps = 1000000;
    int calibrate = 0;
    if (o.steps > 0) {
        total_steps = o.steps;
    } else if (o.epochs > 0) {
        total_steps = (int64_t)ceil(o.epochs * (double)train_info.texts / (2.0 * o.pairs));
        if (total_steps < 1) total_steps = 1;
    } else {
        calibrate = 1;
    }
    clipt_trainer_options to;
    clipt_trainer_options_init(&to);
    to.learning_rate = o.lr;
    to.warmup_steps = o.warmup;
    to.total_steps = total_steps;
    to.schedule = strcmp(o.schedule, "constant") == 0 ? CLIPT_SCHEDULE_CONSTANT
                                                      : CLIPT_SCHEDULE_COSINE;
    to.weight_decay = o.weight_decay;
    to.lambda = o.lambda;
    to.train_top_blocks = o.train_top;
    if ((st = clipt_trainer_create(r.model, r.tok, &to, &r.trainer)) != CLIPT_OK) {
        rc = example_fail("finetune", "creating the trainer", st);
        goto done;
    }

    run_record rec;
    memset(&rec, 0, sizeof rec);
    rec.version = RUN_RECORD_VERSION;
    rec.total_steps = total_steps;
    rec.calibrated = !calibrate;
    describe_settings(&o, rec.settings, sizeof rec.settings);
    char path[4096];
    if (o.resume) {
        snprintf(path, sizeof path, "%s/m0_cache.clipt", o.out_dir);
        if (example_file_exists(path) &&
            (st = clipt_trainer_load_cache(r.trainer, path)) != CLIPT_OK) {
            rc = example_fail("finetune", "loading the M0 cache", st);
            goto done;
        }
        snprintf(path, sizeof path, "%s/state.clipt", o.out_dir);
        run_record saved;
        size_t saved_bytes = 0;
        st = clipt_trainer_load_state(r.trainer, path, &saved, sizeof saved, &saved_bytes);
        if (st != CLIPT_OK) {
            rc = example_fail("finetune", "resuming", st);
            goto done;
        }
        if (saved_bytes != sizeof saved || saved.version != RUN_RECORD_VERSION) {
            fprintf(stderr, "finetune: %s was not written by this version of finetune\n", path);
            goto done;
        }
        saved.settings[sizeof saved.settings - 1] = '\0';
        if (compare_settings(saved.settings, rec.settings) != 0) goto done;
        if ((st = clipt_sampler_set_state(r.sampler, &saved.sampler)) != CLIPT_OK) {
            rc = example_fail("finetune", "restoring the sampler", st);
            goto done;
        }
        if (saved.calibrated || !calibrate) {
            rec = saved;
            if (!calibrate) rec.total_steps = total_steps; /* a new --steps wins */
            rec.calibrated = 1;
            clipt_trainer_set_total_steps(r.trainer, rec.total_steps);
        } else {
            rec.train_seconds = saved.train_seconds;
        }
    }

    clipt_context_describe(r.ctx, desc, sizeof desc);
    clipt_model_config cfg;
    clipt_model_get_config(r.model, &cfg);
    printf("libclipt %s finetune on %s\n", clipt_version_string(), desc);
    printf("model %s: width %d, %d layers, %d heads, projection %d; tokenizer %s\n",
           o.model_dir ? o.model_dir : o.preset, cfg.width, cfg.layers, cfg.heads,
           cfg.projection_dim, tok_path);
    printf("WordNet %s: train %d synsets, %d texts; held-out %d synsets, %d texts; template \"%s\"\n",
           clipt_wordnet_dir(r.wn), train_info.synsets, train_info.texts, held_info.synsets,
           held_info.texts, o.data.template_text);
    char length[64];
    if (o.steps > 0) snprintf(length, sizeof length, "%lld steps", o.steps);
    else if (o.epochs > 0) snprintf(length, sizeof length, "%g epochs (%lld steps)", o.epochs,
                                    (long long)total_steps);
    else snprintf(length, sizeof length, "time budget %g min", o.minutes);
    printf("%d pairs per batch, lr %g (%s, warm-up %lld), weight decay %g, lambda %g, %s\n",
           o.pairs, o.lr, o.schedule, o.warmup, o.weight_decay, o.lambda, length);
    if (o.resume) printf("resumed at step %lld\n", (long long)clipt_trainer_steps(r.trainer));

    /* ---- evaluation before training ---- */
    clipt_eval_stats first, last;
    int64_t last_eval_step = -1;
    if ((st = clipt_trainer_evaluate(r.trainer, r.eval, (size_t)o.eval_pairs, &first)) != CLIPT_OK) {
        rc = example_fail("finetune", "evaluating", st);
        goto done;
    }
    int fresh = !o.resume;
    int64_t first_step = clipt_trainer_steps(r.trainer);
    if (first_step >= rec.total_steps) {
        printf("the saved state is at step %lld, at or past the end of the schedule (%lld "
               "steps); nothing to train\n",
               (long long)first_step, (long long)rec.total_steps);
    }
    r.train_csv = open_csv(o.out_dir, "train.csv",
                           "step,train_seconds,loss,loss_mean20,distance,regulariser,grad_norm,"
                           "learning_rate,texts_per_second",
                           !fresh);
    r.eval_csv = open_csv(o.out_dir, "eval.csv",
                          "step,train_seconds,spearman,pearson,distance,drift,synonym,hypernym,"
                          "hyponym,cohyponym,random",
                          !fresh);
    if (r.train_csv == NULL || r.eval_csv == NULL) goto done;
    if (fresh) write_eval_row(r.eval_csv, 0, 0.0, &first);
    printf("step %lld held-out spearman %.4f pearson %.4f distance %.4f (token-overlap baseline "
           "%.4f)\n",
           (long long)clipt_trainer_steps(r.trainer), first.spearman, first.pearson,
           first.distance, first.overlap_spearman);

    /* ---- training ---- */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double budget = o.minutes > 0 ? o.minutes * 60.0 : 0.0;
    double loss_window[20] = {0};
    int window_steps = 0; /* steps of this process, so a resumed run's mean starts fresh */
    int64_t texts_done = 0;
    double texts_seconds = 0.0;
    int64_t step = clipt_trainer_steps(r.trainer);
    double last_print = 0.0;
    /* A terminal gets one progress line rewritten in place every second; a
     * log file gets a line every 10 seconds. */
    int tty = isatty(fileno(stdout));
    double print_every = tty ? 1.0 : 10.0;
    const char *line_start = tty ? "\r" : "", *line_end = tty ? "   " : "\n";
    while (step < rec.total_steps) {
        if (stop_requested) {
            if (save_state(&r, &o, &rec) == 0) {
                printf("\ninterrupted at step %lld; state saved to %s/state.clipt, continue with "
                       "--resume\n", (long long)step, o.out_dir);
            }
            rc = 130;
            goto done;
        }
        if ((st = clipt_sampler_draw(r.sampler, r.batch, (size_t)o.pairs)) != CLIPT_OK) {
            rc = example_fail("finetune", "drawing pairs", st);
            goto done;
        }
        clipt_step_stats s;
        st = clipt_trainer_step(r.trainer, r.batch, (size_t)o.pairs, &s);
        if (st == CLIPT_ERR_NONFINITE) {
            fprintf(stderr, "\nfinetune: training stopped at step %lld: %s\n"
                            "The parameters from before this step are kept; the last saved state "
                            "is %s/state.clipt. Lower --lr or check the data.\n",
                    (long long)step + 1, clipt_last_error(), o.out_dir);
            goto done;
        }
        if (st != CLIPT_OK) {
            rc = example_fail("finetune", "training step", st);
            goto done;
        }
        step = s.step;
        rec.train_seconds += s.seconds;
        texts_done += s.texts;
        texts_seconds += s.seconds;
        loss_window[window_steps % 20] = s.loss;
        window_steps++;
        int window = window_steps < 20 ? window_steps : 20;
        double mean20 = 0.0;
        for (int i = 0; i < window; i++) mean20 += loss_window[i];
        mean20 /= window;
        if (r.train_csv != NULL) {
            fprintf(r.train_csv, "%lld,%.3f,%.6f,%.6f,%.6f,%.6f,%.4f,%.6g,%.1f\n", (long long)step,
                    rec.train_seconds, s.loss, mean20, s.distance, s.regulariser, s.grad_norm,
                    s.learning_rate, s.texts / s.seconds);
        }
        /* A time budget sets the schedule's length from the measured speed:
         * first after 20 steps, then again at each evaluation until three
         * quarters of the budget are spent, then it stays fixed. */
        int refine = calibrate && ((!rec.calibrated && step >= 20) ||
                                   (step % o.eval_every == 0 && rec.train_seconds < 0.75 * budget));
        if (refine) {
            int64_t total = (int64_t)(budget / (rec.train_seconds / (double)step));
            if (total <= step) total = step + 1;
            if (!rec.calibrated || fabs((double)(total - rec.total_steps)) > 0.05 * rec.total_steps) {
                printf("%stime budget %.1f min: %.3f s per step, schedule set to %lld steps\n",
                       line_start, o.minutes, rec.train_seconds / (double)step, (long long)total);
            }
            rec.total_steps = total;
            rec.calibrated = 1;
            clipt_trainer_set_total_steps(r.trainer, rec.total_steps);
        }
        double now = now_seconds();
        if (now - last_print >= print_every || step == rec.total_steps) {
            last_print = now;
            char eta[32] = "-";
            double per_step = rec.train_seconds / (double)step;
            if (rec.calibrated) {
                format_duration(per_step * (double)(rec.total_steps - step), eta, sizeof eta);
            }
            char total_text[32] = "?";
            if (rec.calibrated) snprintf(total_text, sizeof total_text, "%lld", (long long)rec.total_steps);
            printf("%sstep %lld/%s  loss %.4f  lr %.2e  %.0f texts/s  ETA %s%s", line_start,
                   (long long)step, total_text, mean20, s.learning_rate, texts_done / texts_seconds,
                   eta, line_end);
            fflush(stdout);
        }
        if (step % o.eval_every == 0 || step == rec.total_steps) {
            clipt_eval_stats e;
            if ((st = clipt_trainer_evaluate(r.trainer, r.eval, (size_t)o.eval_pairs, &e)) !=
                CLIPT_OK) {
                rc = example_fail("finetune", "evaluating", st);
                goto done;
            }
            write_eval_row(r.eval_csv, step, rec.train_seconds, &e);
            last = e;
            last_eval_step = step;
            printf("%sstep %lld  held-out spearman %.4f pearson %.4f distance %.4f drift %.4f  "
                   "(%.0f s of training)\n",
                   line_start, (long long)step, e.spearman, e.pearson, e.distance, e.drift, rec.train_seconds);
            if (save_state(&r, &o, &rec) != 0) goto done;
        }
    }
    printf("\n");

    /* ---- summary, model, plot ---- */
    if (last_eval_step != step &&
        (st = clipt_trainer_evaluate(r.trainer, r.eval, (size_t)o.eval_pairs, &last)) != CLIPT_OK) {
        rc = example_fail("finetune", "evaluating", st);
        goto done;
    }
    if (ferror(r.train_csv) || ferror(r.eval_csv) || fflush(r.train_csv) != 0 ||
        fflush(r.eval_csv) != 0) {
        fprintf(stderr, "finetune: writing %s/train.csv or eval.csv failed: %s\n", o.out_dir,
                strerror(errno));
    }
    printf("\n== summary: %lld steps, %.1f s of training, %.0f texts/s ==\n", (long long)step,
           rec.train_seconds, texts_seconds > 0 ? texts_done / texts_seconds : 0.0);
    char before_label[64];
    snprintf(before_label, sizeof before_label, "before (step %lld)", (long long)first_step);
    example_print_eval(o.resume ? before_label : "before", &first, "after", &last);
    clipt_save_options so;
    clipt_save_options_init(&so);
    so.dtype = !strcmp(o.save_dtype, "f16") ? CLIPT_DTYPE_F16
               : !strcmp(o.save_dtype, "bf16") ? CLIPT_DTYPE_BF16
                                               : CLIPT_DTYPE_F32;
    snprintf(path, sizeof path, "%s/model", o.out_dir);
    if ((st = clipt_model_save(r.model, path, &so)) != CLIPT_OK) {
        rc = example_fail("finetune", "saving the model", st);
        goto done;
    }
    printf("model: %s (Hugging Face CLIPTextModelWithProjection)\n", path);
    printf("metrics: %s/train.csv, %s/eval.csv\n", o.out_dir, o.out_dir);
    if (r.train_csv != NULL) fflush(r.train_csv);
    if (r.eval_csv != NULL) fflush(r.eval_csv);
    if (o.plot) plot_curves(o.out_dir);
    rc = 0;

done:
    run_free(&r);
    return rc;
}
