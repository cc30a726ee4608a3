package dev.handoff.bench;

import dev.handoff.common.HandoffException;
import dev.handoff.common.HandoffHeader;
import dev.handoff.common.HeaderCodec;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The header codec: encode, and the two decode steps a reader takes. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"})
public class HeaderCodecBench {
  @Param({"ipv4", "ipv6"})
  public String family;

  private HandoffHeader header;
  private ByteBuffer out;
  private ByteBuffer encoded;

  @Setup
  public void setUp() throws UnknownHostException {
    InetAddress client = InetAddress.getByName(family.equals("ipv4") ? "127.0.0.1" : "::1");
    InetAddress local = InetAddress.getByName(family.equals("ipv4") ? "10.1.2.3" : "fd00::1987");
    header = new HandoffHeader(42, 1_700_000_000_000_000L, new InetSocketAddress(client, 54321),
        new InetSocketAddress(local, 1987));
    out = ByteBuffer.allocateDirect(HeaderCodec.V1_LENGTH);
    encoded = ByteBuffer.allocateDirect(HeaderCodec.V1_LENGTH);
    HeaderCodec.encode(header, encoded);
    encoded.flip();
  }

  @Benchmark
  public int encode() {
    out.clear();
    HeaderCodec.encode(header, out);
    return out.position();
  }

  @Benchmark
  public int decodePrefix() throws HandoffException {
    encoded.limit(HeaderCodec.PREFIX_LENGTH).position(0);
    return HeaderCodec.decodePrefix(encoded);
  }

  @Benchmark
  public HandoffHeader decodeBody() throws HandoffException {
    encoded.limit(HeaderCodec.V1_LENGTH).position(HeaderCodec.PREFIX_LENGTH);
    return HeaderCodec.decodeBody(encoded);
  }
}
