namespace ConvMAE.Interop;

/// <summary>
/// Writes a file so that readers only ever see the old file or the complete new one: the content goes to a
/// temporary file in the same folder, is flushed to disk, and is then renamed over the destination.
/// If anything fails, the temporary file is removed and the destination is untouched.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
            throw new CheckpointException(path, CheckpointError.WriteFailed, $"cannot write: folder {dir} does not exist");
        if (Directory.Exists(full))
            throw new CheckpointException(path, CheckpointError.WriteFailed, "cannot write: a folder has this name");

        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is CheckpointException) throw;
            throw new CheckpointException(path, CheckpointError.WriteFailed, $"write failed, nothing was written: {e.Message}", e);
        }
    }
}
