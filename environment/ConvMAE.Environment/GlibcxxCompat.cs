using System.Buffers.Binary;
using System.Text;

namespace ConvMAE.Env;

/// <summary>Outcome of <see cref="GlibcxxCompat.Apply"/> for one file.</summary>
public enum CompatResult { SystemProvidesVersion, NotReferenced, AlreadyCompatible, Patched }

/// <summary>
/// Makes TorchSharp 0.107's libLibTorchSharp.so load on a libstdc++ older than GCC 13 (Debian 12).
///
/// Why: the wrapper was built with GCC 13, whose &lt;iostream&gt; emits an (uncalled) reference to
/// <c>_ZSt21ios_base_library_initv</c>@GLIBCXX_3.4.32 purely to pin the libstdc++ version. Debian 12's
/// libstdc++ stops at 3.4.30, so the dynamic loader refuses the file. The edit makes that one undefined
/// symbol weak and unversioned (.gnu.version entry 1 = global) and marks the GLIBCXX_3.4.32 requirement
/// in .gnu.version_r as VER_FLG_WEAK, so a missing version is tolerated. Nothing else in the file changes.
/// See ../shared/platform-notes.md, section 1.
/// </summary>
public static class GlibcxxCompat
{
    public const string Version = "GLIBCXX_3.4.32";
    public const string PinSymbol = "_ZSt21ios_base_library_initv";

    const uint ShtDynsym = 11, ShtGnuVersym = 0x6fffffff, ShtGnuVerneed = 0x6ffffffe;
    const byte StbWeak = 2;
    const ushort VerFlgWeak = 0x2, VerNdxGlobal = 1;

    /// <summary>True when the libstdc++ the loader would use already defines <see cref="Version"/>.</summary>
    public static bool SystemProvidesVersion()
    {
        foreach (var path in SystemLibstdcxxCandidates())
            if (File.Exists(path))
                return ContainsAscii(File.ReadAllBytes(path), Version + "\0");
        return false;
    }

    static IEnumerable<string> SystemLibstdcxxCandidates() => new[]
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib64/libstdc++.so.6",
    };

    /// <summary>Edits <paramref name="path"/> in place if, and only if, it needs it. A backup of the original
    /// is kept beside it as <c>.orig</c>; the edited file replaces the original by an atomic rename.</summary>
    public static CompatResult Apply(string path, bool? systemProvidesVersion = null)
    {
        if (systemProvidesVersion ?? SystemProvidesVersion()) return CompatResult.SystemProvidesVersion;
        var bytes = File.ReadAllBytes(path);
        var plan = Plan(bytes, path);
        if (plan is null) return CompatResult.NotReferenced;
        if (plan.IsCompatible(bytes)) return CompatResult.AlreadyCompatible;

        plan.Write(bytes);
        var backup = path + ".orig";
        if (!File.Exists(backup)) File.Copy(path, backup);
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, bytes);
        File.SetUnixFileMode(tmp, File.GetUnixFileMode(path));
        File.Move(tmp, path, overwrite: true);
        return CompatResult.Patched;
    }

    /// <summary>True when the file references <see cref="Version"/> and is not yet edited.</summary>
    public static bool NeedsEdit(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var plan = Plan(bytes, path);
        return plan is not null && !plan.IsCompatible(bytes);
    }

    /// <summary>Byte offsets of the three fields the edit touches.</summary>
    sealed record EditPlan(int SymInfoOffset, int VersymOffset, int VernauxFlagsOffset)
    {
        public bool IsCompatible(byte[] b) =>
            b[SymInfoOffset] >> 4 == StbWeak
            && BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(VersymOffset)) == VerNdxGlobal
            && (BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(VernauxFlagsOffset)) & VerFlgWeak) != 0;

        public void Write(byte[] b)
        {
            b[SymInfoOffset] = (byte)((StbWeak << 4) | (b[SymInfoOffset] & 0xf));
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(VersymOffset), VerNdxGlobal);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(VernauxFlagsOffset));
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(VernauxFlagsOffset), (ushort)(flags | VerFlgWeak));
        }
    }

    /// <summary>Locates the fields to edit, or null when the file does not require <see cref="Version"/>.
    /// Throws <see cref="InvalidDataException"/> naming the file when it is not a 64-bit little-endian ELF.</summary>
    static EditPlan? Plan(byte[] b, string path)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file");
        if (b[4] != 2 || b[5] != 1)
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF files are supported");

        // ELF64 header: e_shoff @0x28 (u64), e_shentsize @0x3A, e_shnum @0x3C (u16).
        long shoff = (long)U64(b, 0x28);
        int shentsize = U16(b, 0x3A), shnum = U16(b, 0x3C);
        Section? dynsym = null, versym = null, verneed = null;
        var sections = new Section[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int h = checked((int)(shoff + (long)i * shentsize));
            // Elf64_Shdr: sh_type @4, sh_offset @24, sh_size @32, sh_link @40, sh_info @44, sh_entsize @56.
            sections[i] = new Section(U32(b, h + 4), (int)U64(b, h + 24), (int)U64(b, h + 32),
                                      (int)U32(b, h + 40), (int)U32(b, h + 44), (int)U64(b, h + 56));
            if (sections[i].Type == ShtDynsym) dynsym = sections[i];
            else if (sections[i].Type == ShtGnuVersym) versym = sections[i];
            else if (sections[i].Type == ShtGnuVerneed) verneed = sections[i];
        }
        if (dynsym is null || versym is null || verneed is null) return null;
        var dynstr = sections[dynsym.Link];

        // Elf64_Vernaux (16 bytes): vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
        int? flagsOffset = null;
        int vn = verneed.Offset;
        for (int n = 0; n < verneed.Info; n++)
        {
            // Elf64_Verneed (16 bytes): vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
            int cnt = U16(b, vn + 2), aux = vn + (int)U32(b, vn + 8);
            for (int k = 0; k < cnt; k++)
            {
                if (Str(b, dynstr.Offset + (int)U32(b, aux + 8)) == Version) flagsOffset = aux + 4;
                aux += (int)U32(b, aux + 12);
            }
            uint next = U32(b, vn + 12);
            if (next == 0) break;
            vn += (int)next;
        }
        if (flagsOffset is null) return null;

        // Elf64_Sym (24 bytes): st_name u32, st_info u8, ...; .gnu.version holds one u16 per symbol.
        int count = dynsym.Size / dynsym.EntSize;
        for (int i = 0; i < count; i++)
        {
            int s = dynsym.Offset + i * dynsym.EntSize;
            if (Str(b, dynstr.Offset + (int)U32(b, s)) == PinSymbol)
                return new EditPlan(s + 4, versym.Offset + 2 * i, flagsOffset.Value);
        }
        throw new InvalidDataException($"{path}: requires {Version} but has no {PinSymbol} symbol; " +
                                       "the known edit does not apply to this build");
    }

    sealed record Section(uint Type, int Offset, int Size, int Link, int Info, int EntSize);

    static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));
    static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
    static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));

    static string Str(byte[] b, int o)
    {
        int end = Array.IndexOf(b, (byte)0, o);
        return Encoding.ASCII.GetString(b, o, end - o);
    }

    static bool ContainsAscii(byte[] haystack, string needle) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;
}
