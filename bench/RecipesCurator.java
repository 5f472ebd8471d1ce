// Apache Curator's side of the recipe benchmarks (bench/recipes_curator.py runs it).
//
// Usage: java RecipesCurator '<spec json>' (the spec that bench/run.py gives every child).
// Prints one JSON line, as the Python children do: {"ok": true, "metrics": {...}, "units":
// {...}, "notes": [...]} or {"ok": false, "error": "..."}.
//
// The same workloads as recipes_kazoo.py and recipes_trio.py, with Curator 5's own recipes,
// as a Curator application uses them: InterProcessMutex (lock, handoff), LeaderSelector with
// autoRequeue (election), SimpleDistributedQueue (its kazoo-like queue: offer/take),
// DistributedAtomicLong (its counter: optimistic compare-and-set, retried), CuratorCache (its
// tree cache since 5.0). Contenders that need their own session get their own
// CuratorFramework, each driven from its own thread. CPU is the whole JVM's (every thread,
// JIT compiler and garbage collector included); RSS is the JVM process's.
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.retry.RetryNTimes;

public final class RecipesCurator {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final JsonNode spec;
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private final Map<String, String> units = new LinkedHashMap<>();

    private RecipesCurator(JsonNode spec) {
        this.spec = spec;
    }

    public static void main(String[] args) {
        ObjectNode out = JSON.createObjectNode();
        try {
            if (args.length != 1) {
                throw new IllegalArgumentException("usage: java RecipesCurator '<spec json>'");
            }
            RecipesCurator bench = new RecipesCurator(JSON.readTree(args[0]));
            bench.run(bench.spec.path("workload").asText());
            out.put("ok", true);
            out.set("metrics", JSON.valueToTree(bench.metrics));
            out.set("units", JSON.valueToTree(bench.units));
            out.set("notes", JSON.createArrayNode());
        } catch (Throwable e) {
            e.printStackTrace();
            out.removeAll();
            out.put("ok", false);
            out.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        System.out.println(out.toString());
        System.out.flush();
        // Curator's and ZooKeeper's threads are not all daemons.
        System.exit(out.path("ok").asBoolean() ? 0 : 1);
    }

    private void run(String workload) throws Exception {
        switch (workload) {
            case "recipe_lock" -> lock();
            case "recipe_lock_handoff" -> handoff(false);
            case "recipe_election" -> handoff(true);
            case "recipe_queue" -> queue();
            case "recipe_counter" -> counter();
            case "recipe_treecache" -> treeCache();
            default -> throw new IllegalArgumentException("unknown workload " + workload);
        }
    }

    // ---------------------------------------------------------------- helpers
    private int num(String field) {
        JsonNode value = spec.get(field);
        if (value == null) {
            throw new IllegalArgumentException("the spec has no " + field);
        }
        return value.asInt();
    }

    private String text(String field) {
        JsonNode value = spec.get(field);
        if (value == null) {
            throw new IllegalArgumentException("the spec has no " + field);
        }
        return value.asText();
    }

    private long deadlineAfter(double seconds) {
        return System.nanoTime() + (long) (seconds * 1e9);
    }

    private long maxNanos() {
        return (long) (spec.path("max_seconds").asDouble() * 1e9);
    }

    private String base(String name) {
        return text("recipe_prefix") + "/" + name + "-curator-" + ProcessHandle.current().pid();
    }

    private static byte[] payload(int size) {
        byte[] out = new byte[size];
        for (int i = 0; i < size; i++) {
            out[i] = (byte) ((i * 7 + 13) % 251);
        }
        return out;
    }

    private CuratorFramework connect() throws InterruptedException {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(text("connect"))
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(15_000)
                .retryPolicy(new RetryNTimes(3, 100))
                .build();
        client.start();
        if (!client.blockUntilConnected(15, TimeUnit.SECONDS)) {
            client.close();
            throw new IllegalStateException("Curator did not connect within 15 s");
        }
        return client;
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static double statusKib(String field) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Double.parseDouble(line.split("\\s+")[1]);
            }
        }
        return Double.NaN;
    }

    private void add(String name, double value, String unit) {
        metrics.put(name, value);
        units.put(name, unit);
    }

    /** The q-th percentile (0..100) with linear interpolation, as bench/_common.py. */
    private static double percentile(List<Double> values, double q) {
        List<Double> ordered = new ArrayList<>(values);
        Collections.sort(ordered);
        if (ordered.size() == 1) {
            return ordered.get(0);
        }
        double rank = (ordered.size() - 1) * q / 100.0;
        int low = (int) Math.floor(rank);
        int high = Math.min(low + 1, ordered.size() - 1);
        return ordered.get(low) + (ordered.get(high) - ordered.get(low)) * (rank - low);
    }

    private void latencies(List<Double> samplesSeconds, String prefix) {
        if (samplesSeconds.isEmpty()) {
            throw new IllegalStateException("no latency sample");
        }
        List<Double> us = new ArrayList<>();
        double sum = 0;
        for (double s : samplesSeconds) {
            us.add(s * 1e6);
            sum += s * 1e6;
        }
        add(prefix + "p50_us", percentile(us, 50), "us");
        add(prefix + "p99_us", percentile(us, 99), "us");
        add(prefix + "mean_us", sum / us.size(), "us");
    }

    private void throughput(long wallNanos, long cpu, int ops) {
        if (ops <= 0 || wallNanos <= 0) {
            throw new IllegalStateException("no operation completed");
        }
        add("ops", ops, "ops");
        add("ops_per_s", ops / (wallNanos / 1e9), "ops/s");
        add("cpu_us_per_op", cpu / 1e3 / ops, "us");
    }

    // ---------------------------------------------------------------- recipes
    private void lock() throws Exception {
        CuratorFramework client = connect();
        try {
            InterProcessMutex mutex = new InterProcessMutex(client, base("lock"));
            for (int i = 0; i < num("warmup"); i++) {
                mutex.acquire();
                mutex.release();
            }
            List<Double> samples = new ArrayList<>();
            long deadline = System.nanoTime() + maxNanos();
            long wall0 = System.nanoTime();
            long cpu0 = cpuNanos();
            for (int i = 0; i < num("ops"); i++) {
                long t0 = System.nanoTime();
                mutex.acquire();
                mutex.release();
                long t1 = System.nanoTime();
                samples.add((t1 - t0) / 1e9);
                if (t1 > deadline) {
                    break;
                }
            }
            throughput(System.nanoTime() - wall0, cpuNanos() - cpu0, samples.size());
            latencies(samples, "");
        } finally {
            client.close();
        }
    }

    /** As recipes_kazoo._handoff: the holder leaves once every other contender is queued. */
    private void handoff(boolean election) throws Exception {
        String path = base(text("workload"));
        int contenders = num("waiters") + 1;
        int wanted = num("ops");
        List<Double> samples = Collections.synchronizedList(new ArrayList<>());
        AtomicLong released = new AtomicLong(0);
        AtomicBoolean done = new AtomicBoolean(false);
        AtomicReference<Throwable> error = new AtomicReference<>();
        long deadline = System.nanoTime() + maxNanos();
        List<CuratorFramework> clients = new ArrayList<>();
        List<LeaderSelector> selectors = Collections.synchronizedList(new ArrayList<>());
        try {
            for (int i = 0; i < contenders; i++) {
                clients.add(connect());
            }
            clients.get(0).createContainers(path);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < contenders; i++) {
                CuratorFramework client = clients.get(i);
                Thread thread = new Thread(() -> {
                    try {
                        contend(client, path, election, contenders, wanted, deadline, samples, released,
                                done, selectors);
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                        done.set(true);
                    }
                });
                thread.setDaemon(true);
                threads.add(thread);
                thread.start();
            }
            for (Thread thread : threads) {
                thread.join(maxNanos() / 1_000_000 + 30_000);
                if (thread.isAlive()) {
                    throw new IllegalStateException("a contender did not finish");
                }
            }
        } finally {
            synchronized (selectors) {
                for (LeaderSelector selector : selectors) {
                    selector.close();
                }
            }
            for (CuratorFramework client : clients) {
                client.close();
            }
        }
        if (error.get() != null) {
            throw new IllegalStateException("a contender failed: " + error.get(), error.get());
        }
        latencies(samples, "");
        add("handoffs", samples.size(), "ops");
    }

    private static void body(CuratorFramework client, String path, int contenders, int wanted, long deadline,
            List<Double> samples, AtomicLong released, AtomicBoolean done) throws Exception {
        long started = System.nanoTime();
        long last = released.get();
        if (last != 0) {
            samples.add((started - last) / 1e9);
        }
        if (samples.size() >= wanted || started > deadline) {
            done.set(true);
        }
        while (!done.get()) {
            if (client.getChildren().forPath(path).size() >= contenders) {
                break;
            }
            Thread.sleep(0, 500_000);
        }
        released.set(System.nanoTime());
    }

    private static void contend(CuratorFramework client, String path, boolean election, int contenders,
            int wanted, long deadline, List<Double> samples, AtomicLong released, AtomicBoolean done,
            List<LeaderSelector> selectors) throws Exception {
        if (!election) {
            InterProcessMutex mutex = new InterProcessMutex(client, path);
            while (!done.get()) {
                if (!mutex.acquire(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("no lock within 60 s");
                }
                try {
                    body(client, path, contenders, wanted, deadline, samples, released, done);
                } finally {
                    mutex.release();
                }
            }
            return;
        }
        CountDownLatch finished = new CountDownLatch(1);
        LeaderSelector selector = new LeaderSelector(client, path, new LeaderSelectorListenerAdapter() {
            @Override
            public void takeLeadership(CuratorFramework leader) throws Exception {
                body(leader, path, contenders, wanted, deadline, samples, released, done);
                if (done.get()) {
                    finished.countDown();
                }
            }
        });
        selector.autoRequeue();
        selectors.add(selector);
        selector.start();
        while (!done.get()) {
            if (finished.await(50, TimeUnit.MILLISECONDS)) {
                break;
            }
        }
    }

    private void queue() throws Exception {
        CuratorFramework client = connect();
        try {
            byte[] data = payload(num("payload"));
            SimpleDistributedQueue queue = new SimpleDistributedQueue(client, base("queue"));
            for (int i = 0; i < num("warmup"); i++) {
                queue.offer(data);
            }
            for (int i = 0; i < num("warmup"); i++) {
                queue.take();
            }
            long deadline = System.nanoTime() + maxNanos();
            long wall0 = System.nanoTime();
            long cpu0 = cpuNanos();
            int put = 0;
            for (int i = 0; i < num("ops"); i++) {
                queue.offer(data);
                put++;
                if (System.nanoTime() > deadline) {
                    break;
                }
            }
            for (int i = 0; i < put; i++) {
                if (!java.util.Arrays.equals(queue.take(), data)) {
                    throw new IllegalStateException("queue returned another item");
                }
            }
            throughput(System.nanoTime() - wall0, cpuNanos() - cpu0, put);
        } finally {
            client.close();
        }
    }

    private void counter() throws Exception {
        String path = base("counter");
        int n = num("clients");
        int perClient = Math.max(1, num("ops") / n);
        long deadline = System.nanoTime() + maxNanos();
        AtomicInteger done = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<CuratorFramework> clients = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                clients.add(connect());
            }
            // Optimistic compare-and-set, retried at once until it wins (as kazoo's Counter).
            RetryNTimes retry = new RetryNTimes(Integer.MAX_VALUE, 0);
            new DistributedAtomicLong(clients.get(0), path, retry).initialize(0L);
            List<Thread> threads = new ArrayList<>();
            for (CuratorFramework client : clients) {
                Thread thread = new Thread(() -> {
                    try {
                        DistributedAtomicLong counter = new DistributedAtomicLong(client, path, retry);
                        for (int i = 0; i < perClient; i++) {
                            AtomicValue<Long> value = counter.increment();
                            if (!value.succeeded()) {
                                throw new IllegalStateException("increment did not succeed");
                            }
                            done.incrementAndGet();
                            if (System.nanoTime() > deadline) {
                                break;
                            }
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                });
                thread.setDaemon(true);
                threads.add(thread);
            }
            long wall0 = System.nanoTime();
            long cpu0 = cpuNanos();
            for (Thread thread : threads) {
                thread.start();
            }
            for (Thread thread : threads) {
                thread.join(maxNanos() / 1_000_000 + 30_000);
            }
            long wall = System.nanoTime() - wall0;
            long cpu = cpuNanos() - cpu0;
            if (error.get() != null) {
                throw new IllegalStateException("a client failed: " + error.get(), error.get());
            }
            long last = new DistributedAtomicLong(clients.get(0), path, retry).get().postValue();
            if (last != done.get()) {
                throw new IllegalStateException("counter is " + last + ", " + done.get() + " increments were made");
            }
            throughput(wall, cpu, done.get());
        } finally {
            for (CuratorFramework client : clients) {
                client.close();
            }
        }
    }

    private void treeCache() throws Exception {
        String root = text("tree_root");
        String leaf = text("tree_leaf");
        byte[] data = payload(num("payload"));
        CuratorFramework client = connect();
        // The writer changes the leaf for the event latency; a separate session, made after
        // the load (as the raw writer of the Python children).
        CuratorFramework writer = null;
        CuratorCache cache = null;
        try {
            client.getData().forPath(text("node"));
            System.gc();
            double rss0 = statusKib("VmRSS");
            CountDownLatch initialized = new CountDownLatch(1);
            AtomicReference<CountDownLatch> updated = new AtomicReference<>(new CountDownLatch(1));
            cache = CuratorCache.build(client, root);
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forInitialized(initialized::countDown)
                    .forChanges((before, after) -> {
                        if (after.getPath().equals(leaf)) {
                            updated.get().countDown();
                        }
                    })
                    .build());
            long t0 = System.nanoTime();
            cache.start();
            if (!initialized.await((long) (spec.path("max_seconds").asDouble() * 4), TimeUnit.SECONDS)) {
                throw new IllegalStateException("the CuratorCache did not initialize in time");
            }
            add("load_s", (System.nanoTime() - t0) / 1e9, "s");
            double rss1 = statusKib("VmRSS");
            int nodes = num("tree_nodes");
            add("nodes", nodes, "nodes");
            add("rss_per_node_b", (rss1 - rss0) * 1024 / nodes, "B");
            writer = connect();
            List<Double> samples = new ArrayList<>();
            long deadline = System.nanoTime() + maxNanos();
            for (int i = 0; i < num("rtt_ops"); i++) {
                CountDownLatch latch = new CountDownLatch(1);
                updated.set(latch);
                long t1 = System.nanoTime();
                writer.setData().inBackground().forPath(leaf, data);
                if (!latch.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("no change event within 30 s");
                }
                samples.add((System.nanoTime() - t1) / 1e9);
                if (System.nanoTime() > deadline) {
                    break;
                }
            }
            latencies(samples, "event_");
        } finally {
            if (cache != null) {
                cache.close();
            }
            if (writer != null) {
                writer.close();
            }
            client.close();
        }
        add("peak_rss_kib", statusKib("VmHWM"), "KiB");
    }
}
