// A Curator 5 peer for the interoperability tests (tests/recipes/test_curator_interop.py).
//
// Usage: java CuratorPeer CONNECT_STRING
// Reads commands from stdin, one per line: "TAG COMMAND HANDLE ARG...". The commands of one
// handle run in order on that handle's own thread (Curator's locks belong to the thread that
// acquired them); each answers one line "TAG ok RESULT" or "TAG err MESSAGE". Events that are not answers
// (leadership gained or lost, count changes) are lines "! HANDLE EVENT ...". Objects (clients,
// locks, selectors, ...) are named by handles chosen by the caller.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.UriSpec;

public final class CuratorPeer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Object> HANDLES = new ConcurrentHashMap<>();
    private static final Map<String, List<Lease>> LEASES = new ConcurrentHashMap<>();
    private static final Map<String, VersionedValue<Integer>> SEEN = new ConcurrentHashMap<>();
    private static final Map<String, Semaphore> RESIGN = new ConcurrentHashMap<>();
    private static String connectString;

    private CuratorPeer() {}

    private static synchronized void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    @SuppressWarnings("unchecked")
    private static <T> T handle(String name) {
        Object value = HANDLES.get(name);
        if (value == null) {
            throw new IllegalArgumentException("no handle " + name);
        }
        return (T) value;
    }

    public static void main(String[] args) throws Exception {
        connectString = args[0];
        Map<String, ExecutorService> threads = new ConcurrentHashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        emit("ready");
        String line;
        while ((line = in.readLine()) != null) {
            final String[] parts = line.trim().split(" ");
            if (parts.length < 3) {
                emit(parts[0] + " err usage: TAG COMMAND HANDLE ARG...");
                continue;
            }
            ExecutorService thread = threads.computeIfAbsent(parts[2], k -> Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "handle-" + k);
                t.setDaemon(true);
                return t;
            }));
            thread.submit(() -> {
                try {
                    emit(parts[0] + " ok " + run(parts));
                } catch (Throwable e) {
                    emit(parts[0] + " err " + e.toString().replace('\n', ' '));
                }
            });
        }
        for (Object value : HANDLES.values()) {
            if (value instanceof CuratorFramework) {
                ((CuratorFramework) value).close();
            }
        }
        System.exit(0);
    }

    private static String run(String[] p) throws Exception {
        String cmd = p[1];
        switch (cmd) {
            case "connect": {
                CuratorFramework client = CuratorFrameworkFactory.builder()
                        .connectString(connectString)
                        .sessionTimeoutMs(Integer.parseInt(p.length > 3 ? p[3] : "10000"))
                        .connectionTimeoutMs(10000)
                        .retryPolicy(new ExponentialBackoffRetry(100, 5))
                        .build();
                client.start();
                if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("not connected");
                }
                HANDLES.put(p[2], client);
                return Long.toHexString(client.getZookeeperClient().getZooKeeper().getSessionId());
            }
            case "close": {
                Object value = HANDLES.remove(p[2]);
                if (value instanceof CuratorFramework) {
                    ((CuratorFramework) value).close();
                } else if (value instanceof LeaderSelector) {
                    ((LeaderSelector) value).close();
                } else if (value instanceof LeaderLatch) {
                    ((LeaderLatch) value).close();
                } else if (value instanceof SharedCount) {
                    ((SharedCount) value).close();
                } else if (value instanceof ServiceDiscovery) {
                    ((ServiceDiscovery<?>) value).close();
                }
                return "closed";
            }
            case "mutex":
                HANDLES.put(p[2], new InterProcessMutex(handle(p[3]), p[4]));
                return "made";
            case "rwlock": {
                InterProcessReadWriteLock rw = new InterProcessReadWriteLock(handle(p[3]), p[4]);
                HANDLES.put(p[2], p[5].equals("read") ? rw.readLock() : rw.writeLock());
                return "made";
            }
            case "acquire": {
                InterProcessLock lock = handle(p[2]);
                if (p.length > 3) {
                    return String.valueOf(lock.acquire(Long.parseLong(p[3]), TimeUnit.MILLISECONDS));
                }
                lock.acquire();
                return "true";
            }
            case "release":
                ((InterProcessLock) handle(p[2])).release();
                return "released";
            case "participants": {
                InterProcessMutex mutex = handle(p[2]);
                return String.join(",", mutex.getParticipantNodes());
            }
            case "semaphore":
                HANDLES.put(p[2], new InterProcessSemaphoreV2(handle(p[3]), p[4], Integer.parseInt(p[5])));
                return "made";
            case "lease": {
                InterProcessSemaphoreV2 sem = handle(p[2]);
                Lease lease = sem.acquire(Long.parseLong(p[3]), TimeUnit.MILLISECONDS);
                if (lease == null) {
                    return "false";
                }
                LEASES.computeIfAbsent(p[2], k -> new ArrayList<>()).add(lease);
                return "true";
            }
            case "return": {
                List<Lease> leases = LEASES.get(p[2]);
                Lease lease = leases.remove(leases.size() - 1);
                lease.close();
                return "returned";
            }
            case "selector": {
                final String name = p[2];
                final Semaphore resign = new Semaphore(0);
                RESIGN.put(name, resign);
                LeaderSelector selector = new LeaderSelector(handle(p[3]), p[4], new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework client) throws Exception {
                        emit("! " + name + " leader");
                        try {
                            resign.acquire();
                        } finally {
                            emit("! " + name + " notleader");
                        }
                    }
                });
                selector.setId(p[5]);
                HANDLES.put(name, selector);
                selector.start();
                return "started";
            }
            case "resign":
                RESIGN.get(p[2]).release();
                return "resigned";
            case "selectorparticipants": {
                LeaderSelector selector = handle(p[2]);
                return ids(selector.getParticipants());
            }
            case "latch": {
                final String name = p[2];
                LeaderLatch latch = new LeaderLatch(handle(p[3]), p[4], p[5]);
                latch.addListener(new LeaderLatchListener() {
                    @Override
                    public void isLeader() {
                        emit("! " + name + " leader");
                    }

                    @Override
                    public void notLeader() {
                        emit("! " + name + " notleader");
                    }
                });
                HANDLES.put(name, latch);
                latch.start();
                return "started";
            }
            case "hasleadership":
                return String.valueOf(((LeaderLatch) handle(p[2])).hasLeadership());
            case "latchparticipants": {
                LeaderLatch latch = handle(p[2]);
                return ids(latch.getParticipants());
            }
            case "count": {
                final String name = p[2];
                SharedCount count = new SharedCount(handle(p[3]), p[4], Integer.parseInt(p[5]));
                count.addListener(new SharedCountListener() {
                    @Override
                    public void countHasChanged(SharedCountReader reader, int newCount) {
                        emit("! " + name + " count " + newCount);
                    }

                    @Override
                    public void stateChanged(CuratorFramework client, ConnectionState state) {}
                });
                count.start();
                HANDLES.put(name, count);
                return "started";
            }
            case "getcount": {
                VersionedValue<Integer> value = ((SharedCount) handle(p[2])).getVersionedValue();
                SEEN.put(p[2], value);
                return value.getValue() + " " + value.getVersion();
            }
            case "setcount":
                ((SharedCount) handle(p[2])).setCount(Integer.parseInt(p[3]));
                return "set";
            case "trysetcount": {
                SharedCount count = handle(p[2]);
                // compares with the version seen by the last getcount
                return String.valueOf(count.trySetCount(SEEN.get(p[2]), Integer.parseInt(p[3])));
            }
            case "discovery": {
                ServiceDiscovery<Object> discovery = ServiceDiscoveryBuilder.builder(Object.class)
                        .client(handle(p[3])).basePath(p[4]).build();
                discovery.start();
                HANDLES.put(p[2], discovery);
                return "started";
            }
            case "register": {
                // register H NAME ID ADDRESS PORT [PAYLOAD-JSON-WITHOUT-SPACES]
                ServiceDiscovery<Object> discovery = handle(p[2]);
                Object payload = p.length > 7 ? JSON.readValue(p[7], Object.class) : null;
                ServiceInstance<Object> instance = ServiceInstance.builder()
                        .name(p[3]).id(p[4]).address(p[5]).port(Integer.parseInt(p[6]))
                        .payload(payload).uriSpec(new UriSpec("{scheme}://{address}:{port}")).build();
                discovery.registerService(instance);
                return "registered";
            }
            case "unregister": {
                ServiceDiscovery<Object> discovery = handle(p[2]);
                ServiceInstance<Object> instance = discovery.queryForInstance(p[3], p[4]);
                discovery.unregisterService(instance);
                return "unregistered";
            }
            case "query": {
                ServiceDiscovery<Object> discovery = handle(p[2]);
                List<Map<String, Object>> out = new ArrayList<>();
                for (ServiceInstance<Object> instance : discovery.queryForInstances(p[3])) {
                    Map<String, Object> one = new java.util.LinkedHashMap<>();
                    one.put("name", instance.getName());
                    one.put("id", instance.getId());
                    one.put("address", instance.getAddress());
                    one.put("port", instance.getPort());
                    one.put("sslPort", instance.getSslPort());
                    one.put("payload", instance.getPayload());
                    one.put("serviceType", String.valueOf(instance.getServiceType()));
                    one.put("enabled", instance.isEnabled());
                    one.put("uri", instance.buildUriSpec());
                    out.add(one);
                }
                return JSON.writeValueAsString(out);
            }
            case "names": {
                ServiceDiscovery<Object> discovery = handle(p[2]);
                return JSON.writeValueAsString(discovery.queryForNames());
            }
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    private static String ids(Collection<Participant> participants) {
        List<String> out = new ArrayList<>();
        for (Participant participant : participants) {
            out.add(participant.getId() + (participant.isLeader() ? "*" : ""));
        }
        return String.join(",", out);
    }
}
