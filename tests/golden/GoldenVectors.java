/*
 * Golden-vector generator for trio_zookeeper's jute encoder.
 *
 * Builds sample instances of the official ZooKeeper jute records (and of the
 * hand-written MultiOperationRecord / MultiResponse), serializes each with
 * org.apache.jute.BinaryOutputArchive exactly as the Java client/server do, and
 * prints a JSON document to stdout.
 *
 * The "fields" of every vector are not typed in by hand: they are captured by a
 * second OutputArchive (FieldsArchive) that is driven by the very same
 * serialize() call, so the field names are the tags the generated jute code
 * passes (i.e. the names in zookeeper.jute) and the values are what Java wrote.
 *
 * Only the JDK and the ZooKeeper jars are needed. Run through generate.sh.
 * This file is ASCII-only on purpose; non-ASCII samples use \\u escapes.
 */

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.OutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Version;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.AddWatchRequest;
import org.apache.zookeeper.proto.AuthPacket;
import org.apache.zookeeper.proto.CheckVersionRequest;
import org.apache.zookeeper.proto.CheckWatchesRequest;
import org.apache.zookeeper.proto.ConnectRequest;
import org.apache.zookeeper.proto.ConnectResponse;
import org.apache.zookeeper.proto.Create2Response;
import org.apache.zookeeper.proto.CreateRequest;
import org.apache.zookeeper.proto.CreateResponse;
import org.apache.zookeeper.proto.CreateTTLRequest;
import org.apache.zookeeper.proto.DeleteRequest;
import org.apache.zookeeper.proto.ErrorResponse;
import org.apache.zookeeper.proto.ExistsRequest;
import org.apache.zookeeper.proto.ExistsResponse;
import org.apache.zookeeper.proto.GetACLRequest;
import org.apache.zookeeper.proto.GetACLResponse;
import org.apache.zookeeper.proto.GetAllChildrenNumberRequest;
import org.apache.zookeeper.proto.GetAllChildrenNumberResponse;
import org.apache.zookeeper.proto.GetChildren2Request;
import org.apache.zookeeper.proto.GetChildren2Response;
import org.apache.zookeeper.proto.GetChildrenRequest;
import org.apache.zookeeper.proto.GetChildrenResponse;
import org.apache.zookeeper.proto.GetDataRequest;
import org.apache.zookeeper.proto.GetDataResponse;
import org.apache.zookeeper.proto.GetEphemeralsRequest;
import org.apache.zookeeper.proto.GetEphemeralsResponse;
import org.apache.zookeeper.proto.GetSASLRequest;
import org.apache.zookeeper.proto.MultiHeader;
import org.apache.zookeeper.proto.ReconfigRequest;
import org.apache.zookeeper.proto.RemoveWatchesRequest;
import org.apache.zookeeper.proto.ReplyHeader;
import org.apache.zookeeper.proto.RequestHeader;
import org.apache.zookeeper.proto.SetACLRequest;
import org.apache.zookeeper.proto.SetACLResponse;
import org.apache.zookeeper.proto.SetDataRequest;
import org.apache.zookeeper.proto.SetDataResponse;
import org.apache.zookeeper.proto.SetSASLResponse;
import org.apache.zookeeper.proto.SetWatches;
import org.apache.zookeeper.proto.SetWatches2;
import org.apache.zookeeper.proto.SyncRequest;
import org.apache.zookeeper.proto.SyncResponse;
import org.apache.zookeeper.proto.WatcherEvent;
import org.apache.zookeeper.proto.WhoAmIResponse;

public final class GoldenVectors {

    // ------------------------------------------------------------------
    // Capturing archive: records what serialize() writes, keyed by tag.
    // ------------------------------------------------------------------

    /** A byte[] value (jute buffer); rendered as {"hex": "..."}. */
    static final class Buf {
        final byte[] bytes;

        Buf(byte[] b) {
            bytes = b.clone();
        }
    }

    /** One record as written: its class plus (tag, value) entries in order. */
    static final class Node {
        final Class<?> type;
        final List<String> tags = new ArrayList<>();
        final List<Object> values = new ArrayList<>();

        Node(Class<?> type) {
            this.type = type;
        }

        void add(String tag, Object v) {
            tags.add(tag);
            values.add(v);
        }

        Object get(String tag) {
            int i = tags.indexOf(tag);
            if (i < 0) {
                throw new IllegalStateException("no field " + tag + " in " + type.getSimpleName());
            }
            return values.get(i);
        }

        /** Field map; duplicate tags would mean the record is not a plain jute record. */
        Map<String, Object> toFields() {
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < tags.size(); i++) {
                Object v = values.get(i);
                if (v instanceof Node) {
                    v = ((Node) v).toFields();
                } else if (v instanceof List) {
                    v = listToFields((List<?>) v);
                }
                if (m.containsKey(tags.get(i))) {
                    throw new IllegalStateException("duplicate tag " + tags.get(i) + " in " + type.getSimpleName());
                }
                m.put(tags.get(i), v);
            }
            return m;
        }

        static List<Object> listToFields(List<?> l) {
            List<Object> out = new ArrayList<>();
            for (Object e : l) {
                if (e instanceof Node) {
                    out.add(((Node) e).toFields());
                } else if (e instanceof List) {
                    out.add(listToFields((List<?>) e));
                } else {
                    out.add(e);
                }
            }
            return out;
        }
    }

    /** Marker pushed for startVector(null, ...) so endVector can pop it. */
    private static final Object NULL_VECTOR = new Object();

    static final class FieldsArchive implements OutputArchive {
        /** Everything written at depth 0 (normally exactly one record). */
        final Node top = new Node(Void.class);
        private final Deque<Object> stack = new ArrayDeque<>();

        @SuppressWarnings("unchecked")
        private void put(String tag, Object v) {
            Object c = stack.isEmpty() ? top : stack.peek();
            if (c instanceof Node) {
                ((Node) c).add(tag, v);
            } else if (c instanceof List) {
                ((List<Object>) c).add(v);
            } else {
                throw new IllegalStateException("value written inside a null vector");
            }
        }

        @Override
        public void writeByte(byte b, String tag) {
            throw new UnsupportedOperationException("byte fields are not used by client records");
        }

        @Override
        public void writeBool(boolean b, String tag) {
            put(tag, b);
        }

        @Override
        public void writeInt(int i, String tag) {
            put(tag, i);
        }

        @Override
        public void writeLong(long l, String tag) {
            put(tag, l);
        }

        @Override
        public void writeFloat(float f, String tag) {
            throw new UnsupportedOperationException("float");
        }

        @Override
        public void writeDouble(double d, String tag) {
            throw new UnsupportedOperationException("double");
        }

        @Override
        public void writeString(String s, String tag) {
            put(tag, s);
        }

        @Override
        public void writeBuffer(byte[] buf, String tag) {
            put(tag, buf == null ? null : new Buf(buf));
        }

        @Override
        public void writeRecord(Record r, String tag) throws IOException {
            r.serialize(this, tag);
        }

        @Override
        public void startRecord(Record r, String tag) {
            Node n = new Node(r.getClass());
            put(tag, n);
            stack.push(n);
        }

        @Override
        public void endRecord(Record r, String tag) {
            Object n = stack.pop();
            if (!(n instanceof Node) || ((Node) n).type != r.getClass()) {
                throw new IllegalStateException("unbalanced endRecord");
            }
        }

        @Override
        public void startVector(List<?> v, String tag) {
            if (v == null) {
                put(tag, null);
                stack.push(NULL_VECTOR);
            } else {
                List<Object> l = new ArrayList<>();
                put(tag, l);
                stack.push(l);
            }
        }

        @Override
        public void endVector(List<?> v, String tag) {
            Object l = stack.pop();
            if ((v == null) != (l == NULL_VECTOR)) {
                throw new IllegalStateException("unbalanced endVector");
            }
        }

        @Override
        public void startMap(TreeMap<?, ?> m, String tag) {
            throw new UnsupportedOperationException("map");
        }

        @Override
        public void endMap(TreeMap<?, ?> m, String tag) {
            throw new UnsupportedOperationException("map");
        }
    }

    // ------------------------------------------------------------------
    // Vector collection
    // ------------------------------------------------------------------

    interface Writer {
        void write(OutputArchive a) throws IOException;
    }

    static final class Vec {
        final String name;
        final String record;
        final Map<String, Object> fields;
        final byte[] bytes;

        Vec(String name, String record, Map<String, Object> fields, byte[] bytes) {
            this.name = name;
            this.record = record;
            this.fields = fields;
            this.bytes = bytes;
        }
    }

    private final List<Vec> vectors = new ArrayList<>();
    private final List<Vec> quirks = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    static byte[] binary(Writer w) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        BinaryOutputArchive boa = BinaryOutputArchive.getArchive(bos);
        w.write(boa);
        return bos.toByteArray();
    }

    static Node capture(Writer w) throws IOException {
        FieldsArchive fa = new FieldsArchive();
        w.write(fa);
        return fa.top;
    }

    private void add(boolean quirk, String name, String record, Map<String, Object> fields, byte[] bytes) {
        if (!names.add(name)) {
            throw new IllegalStateException("duplicate vector name " + name);
        }
        (quirk ? quirks : vectors).add(new Vec(name, record, fields, bytes));
    }

    /**
     * Deserialize with BinaryInputArchive into a fresh instance and serialize
     * again; report when the bytes differ or are not fully consumed.
     */
    private boolean roundTrip(String name, Record fresh, byte[] bytes) {
        try {
            InputStream in = new ByteArrayInputStream(bytes);
            fresh.deserialize(BinaryInputArchive.getArchive(in), "");
            if (in.available() != 0) {
                problems.add(name + ": " + in.available() + " trailing byte(s) after deserialize");
                return false;
            }
            byte[] again = binary(a -> fresh.serialize(a, ""));
            if (!Arrays.equals(again, bytes)) {
                problems.add(name + ": Java deserialize+serialize gives " + hex(again) + " instead of " + hex(bytes));
                return false;
            }
            return true;
        } catch (Exception e) {
            problems.add(name + ": Java cannot deserialize its own output: " + e);
            return false;
        }
    }

    private static Record freshInstance(Record r) {
        try {
            return r.getClass().getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A plain jute record, serialized with record.serialize(archive, ""). */
    private void rec(String sample, Record r) throws IOException {
        rec(false, sample, r);
    }

    private void rec(boolean quirk, String sample, Record r) throws IOException {
        String record = r.getClass().getSimpleName();
        String name = record + "/" + sample;
        byte[] bytes = binary(a -> r.serialize(a, ""));
        Node top = capture(a -> r.serialize(a, ""));
        if (top.values.size() != 1 || !(top.values.get(0) instanceof Node)) {
            throw new IllegalStateException(name + ": expected exactly one top-level record");
        }
        Map<String, Object> fields = ((Node) top.values.get(0)).toFields();
        boolean ok = roundTrip(name, freshInstance(r), bytes);
        if (!ok && !quirk) {
            throw new IllegalStateException(name + " does not round-trip: " + problems.get(problems.size() - 1));
        }
        add(quirk, name, record, fields, bytes);
    }

    /**
     * The session handshake as Java actually puts it on the wire: in 3.8.0 the
     * jute ConnectRequest/ConnectResponse records have no readOnly field;
     * ClientCnxn.Packet.createBB (client) and ZooKeeperServer (server) write
     * the record and then archive.writeBool(readOnly, "readOnly") right after.
     */
    private void connectWire(String sample, Record r, boolean readOnly) throws IOException {
        String record = r.getClass().getSimpleName();
        String name = record + "/" + sample;
        Writer w = a -> {
            r.serialize(a, "connect");
            a.writeBool(readOnly, "readOnly");
        };
        byte[] bytes = binary(w);
        Node top = capture(w);
        Map<String, Object> fields = ((Node) top.values.get(0)).toFields();
        if (!"readOnly".equals(top.tags.get(1)) || top.values.size() != 2) {
            throw new IllegalStateException(name + ": unexpected handshake shape");
        }
        fields.put("readOnly", top.values.get(1));
        add(false, name, record, fields, bytes);
    }

    private static int headerInt(Node h, String tag) {
        return (Integer) h.get(tag);
    }

    private static boolean headerBool(Node h, String tag) {
        return (Boolean) h.get(tag);
    }

    /** Split the top-level stream of a multi record into (MultiHeader, body-or-null) pairs. */
    private static List<Node[]> multiPairs(String name, Node top) {
        if (top.values.size() != 1 || !(top.values.get(0) instanceof Node)) {
            throw new IllegalStateException(name + ": expected one top-level record");
        }
        Node root = (Node) top.values.get(0);
        List<Node[]> pairs = new ArrayList<>();
        int i = 0;
        boolean terminated = false;
        while (i < root.values.size()) {
            Node h = (Node) root.values.get(i++);
            if (h.type != MultiHeader.class) {
                throw new IllegalStateException(name + ": expected MultiHeader, got " + h.type.getSimpleName());
            }
            if (headerBool(h, "done")) {
                if (headerInt(h, "type") != -1 || headerInt(h, "err") != -1 || i != root.values.size()) {
                    throw new IllegalStateException(name + ": unexpected terminating header");
                }
                terminated = true;
                break;
            }
            Node body = null;
            if (i < root.values.size() && ((Node) root.values.get(i)).type != MultiHeader.class) {
                body = (Node) root.values.get(i++);
            }
            pairs.add(new Node[] {h, body});
        }
        if (!terminated) {
            throw new IllegalStateException(name + ": no terminating MultiHeader");
        }
        return pairs;
    }

    /** MultiOperationRecord built from Op factories. */
    private void multiReq(boolean quirk, String sample, List<Op> ops) throws IOException {
        String name = "MultiOperationRecord/" + sample;
        MultiOperationRecord m = new MultiOperationRecord(ops);
        byte[] bytes = binary(a -> m.serialize(a, ""));
        List<Node[]> pairs = multiPairs(name, capture(a -> m.serialize(a, "")));
        if (pairs.size() != ops.size()) {
            throw new IllegalStateException(name + ": op count mismatch");
        }
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            Node h = pairs.get(i)[0];
            Node body = pairs.get(i)[1];
            if (headerInt(h, "type") != ops.get(i).getType() || headerInt(h, "err") != -1 || body == null) {
                throw new IllegalStateException(name + ": unexpected op header/body");
            }
            Map<String, Object> op = new LinkedHashMap<>();
            op.put("type", headerInt(h, "type"));
            op.put("request", body.toFields());
            out.add(op);
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("ops", out);
        boolean ok = roundTrip(name, new MultiOperationRecord(), bytes);
        if (!ok && !quirk) {
            throw new IllegalStateException(name + " does not round-trip: " + problems.get(problems.size() - 1));
        }
        add(quirk, name, "MultiOperationRecord", fields, bytes);
    }

    /** MultiResponse built from OpResult instances. */
    private void multiResp(String sample, List<OpResult> results) throws IOException {
        String name = "MultiResponse/" + sample;
        MultiResponse m = new MultiResponse();
        for (OpResult r : results) {
            m.add(r);
        }
        byte[] bytes = binary(a -> m.serialize(a, ""));
        List<Node[]> pairs = multiPairs(name, capture(a -> m.serialize(a, "")));
        if (pairs.size() != results.size()) {
            throw new IllegalStateException(name + ": result count mismatch");
        }
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            Node h = pairs.get(i)[0];
            Node body = pairs.get(i)[1];
            if (headerInt(h, "type") != results.get(i).getType()) {
                throw new IllegalStateException(name + ": result type mismatch");
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("type", headerInt(h, "type"));
            r.put("err", headerInt(h, "err"));
            r.put("response", body == null ? null : body.toFields());
            out.add(r);
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("results", out);
        if (!roundTrip(name, new MultiResponse(), bytes)) {
            throw new IllegalStateException(name + " does not round-trip: " + problems.get(problems.size() - 1));
        }
        add(false, name, "MultiResponse", fields, bytes);
    }

    // ------------------------------------------------------------------
    // Sample values
    // ------------------------------------------------------------------

    static final int IMIN = Integer.MIN_VALUE;
    static final int IMAX = Integer.MAX_VALUE;
    static final long LMIN = Long.MIN_VALUE;
    static final long LMAX = Long.MAX_VALUE;

    /** U+00E9 (2-byte UTF-8) and U+65E5 U+672C (3-byte UTF-8 each). */
    static final String E_ACUTE = "\u00e9";
    static final String NIHON = "\u65e5\u672c";
    /** UTF-8 length boundaries: U+007F, U+0080, U+07FF, U+0800, U+FFFD. */
    static final String BOUNDARIES = "\u007f\u0080\u07ff\u0800\ufffd";
    /** U+1F600 as a Java surrogate pair: outside the BMP. */
    static final String GRINNING = "\ud83d\ude00";

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    static byte[] seq(int n, int start) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (start + i);
        }
        return b;
    }

    static final byte[] EMPTY = new byte[0];
    static final byte[] ZERO16 = new byte[16];

    static Stat statTypical() {
        return new Stat(0x100000002L, 0x100000005L, 1700000000000L, 1700000001234L, 3, 1, 0, 0L, 5, 1, 0x100000003L);
    }

    static Stat statEphemeral() {
        return new Stat(0x20000000aL, 0x20000000aL, 1700000000000L, 1700000000000L, 0, 0, 0,
                0x1000a1b2c3d4e5fL, 0, 0, 0x20000000aL);
    }

    static Stat statEdge() {
        return new Stat(LMIN, LMAX, -1L, 0L, -1, IMIN, IMAX, 0xff00000000000000L | 60000L, IMAX, -2, -1L);
    }

    static Stat statZero() {
        return new Stat();
    }

    static ACL acl(int perms, String scheme, String id) {
        return new ACL(perms, new Id(scheme, id));
    }

    static List<ACL> aclsMixed() {
        return Arrays.asList(
                acl(ZooDefs.Perms.ALL, "digest", "user:9fR2t0mQ0n1dYpXkq3Lr8W+2vPs="),
                acl(ZooDefs.Perms.READ, "world", "anyone"),
                acl(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, "ip", "10.0.0.0/8"),
                acl(ZooDefs.Perms.ALL, "auth", ""));
    }

    static List<String> strs(String... s) {
        return new ArrayList<>(Arrays.asList(s));
    }

    // ------------------------------------------------------------------
    // The samples
    // ------------------------------------------------------------------

    void build() throws IOException {
        // --- data records -------------------------------------------------
        rec("world_anyone", new Id("world", "anyone"));
        rec("digest_non_ascii", new Id("digest", E_ACUTE + ":" + NIHON));
        rec("empty_strings", new Id("", ""));
        rec("null_strings", new Id(null, null));
        rec("null_scheme_empty_id", new Id(null, ""));
        rec("utf8_length_boundaries", new Id("x" + BOUNDARIES, "a\0b"));

        rec("open_acl_unsafe", ZooDefs.Ids.OPEN_ACL_UNSAFE.get(0));
        rec("creator_all", ZooDefs.Ids.CREATOR_ALL_ACL.get(0));
        rec("digest_read_write", acl(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, "digest", "bob:" + NIHON));
        rec("perms_int_min_null_id", acl(IMIN, null, null));
        rec("perms_minus1_empty_id", acl(-1, "", ""));
        rec("perms_zero", acl(0, "ip", "127.0.0.1"));

        rec("typical", statTypical());
        rec("ephemeral_owner", statEphemeral());
        rec("edge_min_max", statEdge());
        rec("all_zero", statZero());
        rec("container_owner", new Stat(1L, 1L, 1L, 1L, 0, 0, 0, LMIN, 0, 0, 1L));

        rec("typical", new ClientInfo("ip", "127.0.0.1"));
        rec("non_ascii", new ClientInfo("sasl", NIHON + "@EXAMPLE.COM"));
        rec("empty_strings", new ClientInfo("", ""));
        rec("null_strings", new ClientInfo(null, null));

        // --- handshake -----------------------------------------------------
        // Pure jute records (3.8.0 zookeeper.jute has no readOnly field).
        rec("record_new_session", new ConnectRequest(0, 0L, 30000, 0L, ZERO16));
        rec("record_reconnect", new ConnectRequest(0, 0x100000023L, 10000, 0x1000a1b2c3d4e5fL, seq(16, 0xf0)));
        rec("record_edge_min", new ConnectRequest(IMIN, LMIN, IMIN, LMIN, EMPTY));
        rec("record_edge_max_null_passwd", new ConnectRequest(IMAX, LMAX, IMAX, LMAX, null));
        rec("record_negative", new ConnectRequest(-1, -1L, -1, -1L, bytes(0xff)));
        // What Java sends/receives on the wire: record + trailing readOnly byte.
        connectWire("wire_new_session_rw", new ConnectRequest(0, 0L, 30000, 0L, ZERO16), false);
        connectWire("wire_new_session_can_be_read_only", new ConnectRequest(0, 0L, 30000, 0L, ZERO16), true);
        connectWire("wire_reconnect", new ConnectRequest(0, 0x100000023L, 10000, 0x1000a1b2c3d4e5fL, seq(16, 0xf0)), false);
        connectWire("wire_edge_null_passwd", new ConnectRequest(IMIN, LMAX, -1, LMIN, null), true);

        rec("record_typical", new ConnectResponse(0, 30000, 0x1000a1b2c3d4e5fL, seq(16, 0x10)));
        rec("record_expired", new ConnectResponse(0, 0, 0L, ZERO16));
        rec("record_edge_empty_passwd", new ConnectResponse(IMIN, -1, LMIN, EMPTY));
        rec("record_edge_null_passwd", new ConnectResponse(IMAX, IMAX, LMAX, null));
        connectWire("wire_typical_rw", new ConnectResponse(0, 30000, 0x1000a1b2c3d4e5fL, seq(16, 0x10)), false);
        connectWire("wire_read_only_server", new ConnectResponse(0, 4000, 0x2000000000001L, seq(16, 0x80)), true);
        connectWire("wire_expired", new ConnectResponse(0, 0, 0L, ZERO16), false);

        // --- headers ---------------------------------------------------------
        rec("get_data", new RequestHeader(1, ZooDefs.OpCode.getData));
        rec("ping", new RequestHeader(-2, ZooDefs.OpCode.ping));
        rec("auth", new RequestHeader(-4, ZooDefs.OpCode.auth));
        rec("set_watches", new RequestHeader(-8, ZooDefs.OpCode.setWatches));
        rec("close_session", new RequestHeader(123456, ZooDefs.OpCode.closeSession));
        rec("edge_min_max", new RequestHeader(IMIN, IMAX));

        rec("ok", new ReplyHeader(1, 0x100000005L, 0));
        rec("notification", new ReplyHeader(-1, -1L, 0));
        rec("ping", new ReplyHeader(-2, 0x100000005L, 0));
        rec("no_node", new ReplyHeader(7, 0x100000006L, -101));
        rec("edge_max_min", new ReplyHeader(IMAX, LMIN, IMIN));
        rec("edge_min_max", new ReplyHeader(IMIN, LMAX, IMAX));

        rec("node_data_changed", new WatcherEvent(3, 3, "/app/config"));
        rec("session_expired_null_path", new WatcherEvent(-1, -112, null));
        rec("none_empty_path", new WatcherEvent(-1, 3, ""));
        rec("non_ascii_path", new WatcherEvent(4, 3, "/" + E_ACUTE + "/" + NIHON));
        rec("edge_min_max", new WatcherEvent(IMIN, IMAX, "/"));

        rec("op_create", new MultiHeader(1, false, -1));
        rec("terminator", new MultiHeader(-1, true, -1));
        rec("error_result", new MultiHeader(-1, false, -101));
        rec("edge_min_max", new MultiHeader(IMIN, true, IMAX));

        rec("digest", new AuthPacket(0, "digest", utf8("user:password")));
        rec("non_ascii", new AuthPacket(0, "digest", utf8("bob:" + E_ACUTE + NIHON)));
        rec("empty", new AuthPacket(0, "", EMPTY));
        rec("null_scheme_null_auth", new AuthPacket(-1, null, null));
        rec("edge_int_min_binary", new AuthPacket(IMIN, "x", bytes(0x00, 0xff, 0x80, 0x7f)));

        // --- create ----------------------------------------------------------
        rec("typical_open_acl", new CreateRequest("/app/node", utf8("hello"), ZooDefs.Ids.OPEN_ACL_UNSAFE, 0));
        rec("ephemeral_sequential_multi_acl", new CreateRequest("/app/lock-", seq(3, 1), aclsMixed(), 3));
        rec("container_flag", new CreateRequest("/app/c", EMPTY, ZooDefs.Ids.CREATOR_ALL_ACL, 4));
        rec("null_data_empty_acl", new CreateRequest("/n", null, new ArrayList<>(), -1));
        rec("null_path_null_acl", new CreateRequest(null, EMPTY, null, IMAX));
        rec("empty_path_non_ascii_data", new CreateRequest("", utf8(E_ACUTE + NIHON), ZooDefs.Ids.READ_ACL_UNSAFE, IMIN));
        rec("non_ascii_path", new CreateRequest("/" + E_ACUTE + "/" + NIHON, utf8("x"), ZooDefs.Ids.OPEN_ACL_UNSAFE, 1));

        rec("persistent_with_ttl", new CreateTTLRequest("/ttl", utf8("v"), ZooDefs.Ids.OPEN_ACL_UNSAFE, 5, 60000L));
        rec("sequential_ttl_max", new CreateTTLRequest("/ttl/s-", EMPTY, aclsMixed(), 6, LMAX));
        rec("edge_nulls_ttl_min", new CreateTTLRequest(null, null, null, -1, LMIN));
        rec("ttl_minus1_empty_acl", new CreateTTLRequest("", EMPTY, new ArrayList<>(), 0, -1L));

        rec("sequential_path", new CreateResponse("/app/lock-0000000001"));
        rec("empty", new CreateResponse(""));
        rec("null", new CreateResponse(null));
        rec("non_ascii", new CreateResponse("/" + NIHON));

        rec("typical", new Create2Response("/app/node", statTypical()));
        rec("null_path_edge_stat", new Create2Response(null, statEdge()));
        rec("empty_path_zero_stat", new Create2Response("", statZero()));

        // --- delete / exists / data --------------------------------------------
        rec("any_version", new DeleteRequest("/app/node", -1));
        rec("version_5", new DeleteRequest("/a/b", 5));
        rec("empty_path_int_min", new DeleteRequest("", IMIN));
        rec("null_path_int_max", new DeleteRequest(null, IMAX));

        rec("watch", new ExistsRequest("/app/node", true));
        rec("root_no_watch", new ExistsRequest("/", false));
        rec("null_path", new ExistsRequest(null, false));
        rec("non_ascii_path", new ExistsRequest("/" + E_ACUTE, true));

        rec("typical", new ExistsResponse(statTypical()));
        rec("edge", new ExistsResponse(statEdge()));
        rec("zero", new ExistsResponse(statZero()));

        rec("watch", new GetDataRequest("/app/node", true));
        rec("no_watch", new GetDataRequest("/app/node", false));
        rec("empty_path", new GetDataRequest("", false));
        rec("null_path", new GetDataRequest(null, true));

        rec("typical", new GetDataResponse(utf8("hello"), statTypical()));
        rec("empty_data", new GetDataResponse(EMPTY, statZero()));
        rec("null_data", new GetDataResponse(null, statEdge()));
        rec("binary_data", new GetDataResponse(bytes(0x00, 0xff, 0x80, 0x7f, 0x0a), statEphemeral()));

        rec("typical", new SetDataRequest("/app/node", utf8("new"), 3));
        rec("null_data_any_version", new SetDataRequest("/app/node", null, -1));
        rec("empty_data_int_min", new SetDataRequest("/app/node", EMPTY, IMIN));
        rec("null_path_int_max", new SetDataRequest(null, seq(32, 0), IMAX));

        rec("typical", new SetDataResponse(statTypical()));
        rec("edge", new SetDataResponse(statEdge()));
        rec("zero", new SetDataResponse(statZero()));

        // --- ACLs --------------------------------------------------------------
        rec("typical", new GetACLRequest("/app/node"));
        rec("empty", new GetACLRequest(""));
        rec("null", new GetACLRequest(null));

        rec("open_acl", new GetACLResponse(ZooDefs.Ids.OPEN_ACL_UNSAFE, statTypical()));
        rec("multi_acl_edge_stat", new GetACLResponse(aclsMixed(), statEdge()));
        rec("empty_acl", new GetACLResponse(new ArrayList<>(), statZero()));
        rec("null_acl", new GetACLResponse(null, statTypical()));

        rec("typical", new SetACLRequest("/app/node", aclsMixed(), 2));
        rec("empty_acl_any_version", new SetACLRequest("/app/node", new ArrayList<>(), -1));
        rec("null_path_null_acl", new SetACLRequest(null, null, IMIN));

        rec("typical", new SetACLResponse(statTypical()));
        rec("edge", new SetACLResponse(statEdge()));
        rec("zero", new SetACLResponse(statZero()));

        // --- children ------------------------------------------------------------
        rec("watch", new GetChildrenRequest("/app", true));
        rec("no_watch_root", new GetChildrenRequest("/", false));
        rec("null_path", new GetChildrenRequest(null, false));

        rec("three", new GetChildrenResponse(strs("a", "b", "c")));
        rec("single", new GetChildrenResponse(strs("lock-0000000001")));
        rec("empty", new GetChildrenResponse(new ArrayList<>()));
        rec("null", new GetChildrenResponse(null));
        rec("empty_and_non_ascii", new GetChildrenResponse(strs("", E_ACUTE, NIHON)));

        rec("watch", new GetChildren2Request("/app", true));
        rec("no_watch", new GetChildren2Request("/app", false));
        rec("null_path", new GetChildren2Request(null, true));

        rec("typical", new GetChildren2Response(strs("a", "b"), statTypical()));
        rec("empty_zero_stat", new GetChildren2Response(new ArrayList<>(), statZero()));
        rec("null_edge_stat", new GetChildren2Response(null, statEdge()));

        // --- sync / check / reconfig / watches ---------------------------------------
        rec("typical", new SyncRequest("/app"));
        rec("empty", new SyncRequest(""));
        rec("null", new SyncRequest(null));

        rec("typical", new SyncResponse("/app"));
        rec("non_ascii", new SyncResponse("/" + NIHON));
        rec("null", new SyncResponse(null));

        rec("typical", new CheckVersionRequest("/app/node", 3));
        rec("any_version", new CheckVersionRequest("/app/node", -1));
        rec("null_path_int_min", new CheckVersionRequest(null, IMIN));

        rec("add_joining", new ReconfigRequest("server.4=10.0.0.4:2888:3888:participant;2181", null, null, -1L));
        rec("remove_leaving", new ReconfigRequest(null, "2,3", null, 0x100000000L));
        rec("new_members", new ReconfigRequest(null, null,
                "server.1=10.0.0.1:2888:3888;2181,server.2=10.0.0.2:2888:3888;2181", LMAX));
        rec("empty_strings_long_min", new ReconfigRequest("", "", "", LMIN));

        rec("children", new CheckWatchesRequest("/app", 1));
        rec("any", new CheckWatchesRequest("/app", 3));
        rec("null_path_minus1", new CheckWatchesRequest(null, -1));
        rec("empty_path_int_max", new CheckWatchesRequest("", IMAX));

        rec("data", new RemoveWatchesRequest("/app", 2));
        rec("any", new RemoveWatchesRequest("/app", 3));
        rec("persistent_recursive", new RemoveWatchesRequest("/app", 5));
        rec("null_path_int_min", new RemoveWatchesRequest(null, IMIN));

        rec("persistent", new AddWatchRequest("/app", 0));
        rec("persistent_recursive", new AddWatchRequest("/", 1));
        rec("null_path_minus1", new AddWatchRequest(null, -1));

        rec("ok", new ErrorResponse(0));
        rec("no_node", new ErrorResponse(-101));
        rec("int_min", new ErrorResponse(IMIN));
        rec("int_max", new ErrorResponse(IMAX));

        rec("typical", new SetWatches(0x100000005L, strs("/d1", "/d2"), strs("/e"), strs("/c1", "/c2", "/c3")));
        rec("all_empty", new SetWatches(0L, new ArrayList<>(), new ArrayList<>(), new ArrayList<>()));
        rec("all_null", new SetWatches(-1L, null, null, null));
        rec("mixed_long_max", new SetWatches(LMAX, strs("/" + E_ACUTE), new ArrayList<>(), null));
        rec("long_min", new SetWatches(LMIN, null, strs(""), new ArrayList<>()));

        rec("typical", new SetWatches2(0x100000005L, strs("/d"), strs("/e"), strs("/c"), strs("/p1", "/p2"),
                strs("/r")));
        rec("all_empty", new SetWatches2(0L, new ArrayList<>(), new ArrayList<>(), new ArrayList<>(),
                new ArrayList<>(), new ArrayList<>()));
        rec("all_null", new SetWatches2(-1L, null, null, null, null, null));
        rec("mixed_edge", new SetWatches2(LMIN, null, new ArrayList<>(), strs("/" + NIHON), null, strs("", "/")));

        // --- 3.6+ requests -------------------------------------------------------------
        rec("root", new GetEphemeralsRequest("/"));
        rec("prefix", new GetEphemeralsRequest("/app/e"));
        rec("empty", new GetEphemeralsRequest(""));
        rec("null", new GetEphemeralsRequest(null));

        rec("two", new GetEphemeralsResponse(strs("/app/e1", "/app/e2")));
        rec("empty", new GetEphemeralsResponse(new ArrayList<>()));
        rec("null", new GetEphemeralsResponse(null));

        rec("typical", new GetAllChildrenNumberRequest("/app"));
        rec("empty", new GetAllChildrenNumberRequest(""));
        rec("null", new GetAllChildrenNumberRequest(null));

        rec("zero", new GetAllChildrenNumberResponse(0));
        rec("typical", new GetAllChildrenNumberResponse(42));
        rec("minus1", new GetAllChildrenNumberResponse(-1));
        rec("int_max", new GetAllChildrenNumberResponse(IMAX));

        rec("two", new WhoAmIResponse(Arrays.asList(new ClientInfo("ip", "127.0.0.1"), new ClientInfo("digest", "bob"))));
        rec("empty", new WhoAmIResponse(new ArrayList<>()));
        rec("null", new WhoAmIResponse(null));
        rec("null_strings_non_ascii", new WhoAmIResponse(Arrays.asList(new ClientInfo(null, null),
                new ClientInfo("sasl", E_ACUTE + NIHON))));

        rec("token", new GetSASLRequest(seq(24, 0x60)));
        rec("empty", new GetSASLRequest(EMPTY));
        rec("null", new GetSASLRequest(null));

        rec("token", new SetSASLResponse(utf8("rspauth=0123456789abcdef")));
        rec("empty", new SetSASLResponse(EMPTY));
        rec("null", new SetSASLResponse(null));

        // --- multi requests --------------------------------------------------------------
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        multiReq(false, "empty", Collections.<Op>emptyList());
        // Op.create(path, data, acl, CreateMode, long ttl) for every mode (ttl is
        // ignored by Java for non-TTL modes), then the (CreateMode) and (int flags)
        // overloads for the non-TTL modes.
        for (CreateMode mode : CreateMode.values()) {
            long ttl = mode.isTTL() ? 60000L : -1L;
            String m = mode.name().toLowerCase();
            multiReq(false, "create_ttl_overload_" + m,
                    Collections.singletonList(Op.create("/m/" + m, utf8("d"), open, mode, ttl)));
        }
        for (CreateMode mode : CreateMode.values()) {
            if (mode.isTTL()) {
                continue; // see quirks below
            }
            String m = mode.name().toLowerCase();
            multiReq(false, "create_mode_overload_" + m,
                    Collections.singletonList(Op.create("/m/" + m, null, ZooDefs.Ids.CREATOR_ALL_ACL, mode)));
            multiReq(false, "create_flags_overload_" + mode.toFlag(),
                    Collections.singletonList(Op.create("/f/" + m, EMPTY, open, mode.toFlag())));
        }
        multiReq(false, "create_flags_ttl_overload_5",
                Collections.singletonList(Op.create("/f/ttl", EMPTY, open, 5, 1000L)));
        multiReq(false, "delete", Collections.singletonList(Op.delete("/m/a", -1)));
        multiReq(false, "set_data", Collections.singletonList(Op.setData("/m/a", utf8("v2"), 7)));
        multiReq(false, "check", Collections.singletonList(Op.check("/m/a", 3)));
        multiReq(false, "transaction_mixed", Arrays.asList(
                Op.check("/app", 0),
                Op.create("/app/a", utf8("hello"), open, CreateMode.PERSISTENT),
                Op.create("/app/b-", null, aclsMixed(), CreateMode.EPHEMERAL_SEQUENTIAL),
                Op.create("/app/c", EMPTY, open, CreateMode.CONTAINER),
                Op.create("/app/t", utf8("ttl"), open, CreateMode.PERSISTENT_WITH_TTL, 5000L),
                Op.setData("/app/a", utf8("world"), -1),
                Op.delete("/app/old", 4)));
        multiReq(false, "transaction_edge_values", Arrays.asList(
                Op.setData("/" + NIHON, null, IMIN),
                Op.setData("/" + E_ACUTE, EMPTY, IMAX),
                Op.check("/x", IMIN),
                Op.delete("/y", IMAX),
                Op.create("/z", EMPTY, new ArrayList<>(), CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, LMAX)));
        multiReq(false, "read_get_children", Collections.singletonList(Op.getChildren("/app")));
        multiReq(false, "read_get_data", Collections.singletonList(Op.getData("/app/a")));
        multiReq(false, "read_mixed", Arrays.asList(Op.getChildren("/"), Op.getData("/app/a"),
                Op.getData("/" + NIHON), Op.getChildren("/app")));

        // --- multi responses ---------------------------------------------------------------
        multiResp("empty", Collections.<OpResult>emptyList());
        multiResp("create_path_only", Collections.singletonList(new OpResult.CreateResult("/app/a")));
        multiResp("create_with_stat", Collections.singletonList(new OpResult.CreateResult("/app/a", statTypical())));
        multiResp("delete", Collections.singletonList(new OpResult.DeleteResult()));
        multiResp("set_data", Collections.singletonList(new OpResult.SetDataResult(statTypical())));
        multiResp("check", Collections.singletonList(new OpResult.CheckResult()));
        multiResp("error_no_node", Collections.singletonList(new OpResult.ErrorResult(-101)));
        multiResp("transaction_ok", Arrays.asList(
                new OpResult.CheckResult(),
                new OpResult.CreateResult("/app/a"),
                new OpResult.CreateResult("/app/b-0000000007", statEphemeral()),
                new OpResult.SetDataResult(statEdge()),
                new OpResult.DeleteResult()));
        multiResp("transaction_failed", Arrays.asList(
                new OpResult.ErrorResult(0),
                new OpResult.ErrorResult(-101),
                new OpResult.ErrorResult(-2)));
        multiResp("error_edge_codes", Arrays.asList(
                new OpResult.ErrorResult(IMIN),
                new OpResult.ErrorResult(IMAX),
                new OpResult.ErrorResult(-110)));
        multiResp("read_results", Arrays.asList(
                new OpResult.GetChildrenResult(strs("a", "b", NIHON)),
                new OpResult.GetDataResult(utf8("hello"), statTypical()),
                new OpResult.ErrorResult(-101)));
        multiResp("read_edge", Arrays.asList(
                new OpResult.GetChildrenResult(new ArrayList<>()),
                new OpResult.GetChildrenResult(null),
                new OpResult.GetDataResult(null, statZero()),
                new OpResult.GetDataResult(EMPTY, statEdge())));

        // --- quirks: real Java output that a correct encoder should NOT imitate ---------------
        // BinaryOutputArchive encodes each UTF-16 char separately, so a character
        // outside the BMP comes out as two 3-byte surrogate sequences (CESU-8),
        // not standard 4-byte UTF-8; Java's own reader cannot decode it back.
        rec(true, "non_bmp_cesu8", new Id("world", GRINNING));
        rec(true, "non_bmp_cesu8", new ClientInfo("sasl", "u" + GRINNING));
        rec(true, "non_bmp_cesu8", new GetChildrenResponse(strs(GRINNING, "a")));
        // A null element inside a vector<ustring> is written as length -1 (Java
        // allows it; a null nested record, by contrast, throws NullPointerException).
        rec(true, "null_element", new GetChildrenResponse(strs("a", null, "")));
        // A TTL CreateMode given without a ttl argument: Op.create(path, data,
        // acl, CreateMode) / Op.create(path, data, acl, int) pick opcode 21
        // (createTTL) but still serialize a plain CreateRequest (no ttl field).
        multiReq(true, "ttl_mode_via_create_mode_overload", Collections.singletonList(
                Op.create("/q/ttl", utf8("d"), open, CreateMode.PERSISTENT_WITH_TTL)));
        multiReq(true, "ttl_flag_via_create_flags_overload", Collections.singletonList(
                Op.create("/q/ttl", utf8("d"), open, 6)));
        notes.add("Records in 3.8.0 jar with no client use (not emitted): SetSASLRequest, GetMaxChildrenRequest, "
                + "GetMaxChildrenResponse, SetMaxChildrenRequest, StatPersisted");
    }

    // ------------------------------------------------------------------
    // Tiny JSON writer (ASCII-only output; everything else is \\u-escaped)
    // ------------------------------------------------------------------

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    static String hex(byte[] b) {
        char[] c = new char[b.length * 2];
        for (int i = 0; i < b.length; i++) {
            c[2 * i] = HEX[(b[i] >> 4) & 0xf];
            c[2 * i + 1] = HEX[b[i] & 0xf];
        }
        return new String(c);
    }

    static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                case '\b':
                    sb.append("\\b");
                    break;
                case '\f':
                    sb.append("\\f");
                    break;
                default:
                    if (ch < 0x20 || ch >= 0x7f) {
                        sb.append("\\u").append(HEX[(ch >> 12) & 0xf]).append(HEX[(ch >> 8) & 0xf])
                                .append(HEX[(ch >> 4) & 0xf]).append(HEX[ch & 0xf]);
                    } else {
                        sb.append(ch);
                    }
            }
        }
        sb.append('"');
    }

    static void json(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String) {
            jsonString(sb, (String) v);
        } else if (v instanceof Integer || v instanceof Long) {
            sb.append(v.toString());
        } else if (v instanceof Boolean) {
            sb.append(((Boolean) v) ? "true" : "false");
        } else if (v instanceof Buf) {
            sb.append("{\"hex\": ");
            jsonString(sb, hex(((Buf) v).bytes));
            sb.append('}');
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                jsonString(sb, (String) e.getKey());
                sb.append(": ");
                json(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object e : (List<?>) v) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                json(sb, e);
            }
            sb.append(']');
        } else {
            throw new IllegalArgumentException("cannot encode " + v.getClass());
        }
    }

    static void vecList(StringBuilder sb, List<Vec> list) {
        sb.append('[');
        for (int i = 0; i < list.size(); i++) {
            Vec v = list.get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", v.name);
            m.put("record", v.record);
            m.put("fields", v.fields);
            m.put("hex", hex(v.bytes));
            sb.append(i == 0 ? "\n    " : ",\n    ");
            json(sb, m);
        }
        sb.append(list.isEmpty() ? "]" : "\n  ]");
    }

    static String juteJarVersion() throws IOException {
        try (InputStream in = BinaryOutputArchive.class.getResourceAsStream(
                "/META-INF/maven/org.apache.zookeeper/zookeeper-jute/pom.properties")) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        }
    }

    String render() throws IOException {
        String zkVersion = Version.getVersion();
        String juteVersion = juteJarVersion();
        if (juteVersion != null && !juteVersion.equals(zkVersion)) {
            throw new IllegalStateException("zookeeper.jar is " + zkVersion + " but zookeeper-jute.jar is " + juteVersion);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("{\n  \"zookeeper_version\": ");
        jsonString(sb, zkVersion);
        sb.append(",\n  \"generator\": \"tests/golden/GoldenVectors.java (BinaryOutputArchive)\"");
        sb.append(",\n  \"vectors\": ");
        vecList(sb, vectors);
        sb.append(",\n  \"quirks\": ");
        vecList(sb, quirks);
        sb.append("\n}\n");
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        GoldenVectors g = new GoldenVectors();
        g.build();
        String out = g.render();
        PrintStream stdout = new PrintStream(System.out, false, "US-ASCII");
        stdout.print(out);
        stdout.flush();
        System.err.println("GoldenVectors: " + g.vectors.size() + " vectors, " + g.quirks.size() + " quirks");
        for (String p : g.problems) {
            System.err.println("  quirk (expected): " + p);
        }
        for (String n : g.notes) {
            System.err.println("  note: " + n);
        }
    }
}
