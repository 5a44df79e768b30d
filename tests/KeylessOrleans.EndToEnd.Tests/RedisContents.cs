using StackExchange.Redis;

namespace KeylessOrleans.EndToEnd.Tests;

/// <summary>Every key and every value in a Redis server, in every database, as exact bytes: what the cluster stored.</summary>
internal static class RedisContents
{
    public sealed record Entry(string Key, RedisType Type, byte[] Bytes);

    public static async Task<IReadOnlyList<Entry>> ReadAllAsync(string endpoint)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"{endpoint},allowAdmin=true");
        var server = redis.GetServer(endpoint);
        var entries = new List<Entry>();
        for (var db = 0; db < server.DatabaseCount; db++)
        {
            if (await server.DatabaseSizeAsync(db) == 0) continue;
            var database = redis.GetDatabase(db);
            await foreach (var key in server.KeysAsync(db, pattern: "*", pageSize: 250))
            {
                var type = await database.KeyTypeAsync(key);
                var parts = new List<byte[]> { key! };
                parts.AddRange(type switch
                {
                    RedisType.String => [(byte[])(await database.StringGetAsync(key))!],
                    RedisType.Hash => (await database.HashGetAllAsync(key)).SelectMany(e => new[] { (byte[])e.Name!, (byte[])e.Value! }),
                    RedisType.List => (await database.ListRangeAsync(key)).Select(v => (byte[])v!),
                    RedisType.Set => (await database.SetMembersAsync(key)).Select(v => (byte[])v!),
                    RedisType.SortedSet => (await database.SortedSetRangeByRankAsync(key)).Select(v => (byte[])v!),
                    RedisType.Stream => (await database.StreamRangeAsync(key)).SelectMany(e => e.Values).SelectMany(v => new[] { (byte[])v.Name!, (byte[])v.Value! }),
                    _ => throw new InvalidDataException($"Redis key {key} has type {type}, which this reader cannot read"),
                });
                // One buffer per key; a 0 byte between its parts (key, fields, values) so text forms never match across two.
                entries.Add(new Entry($"redis db{db} {type} {key}", type, parts.SelectMany(p => p.Append((byte)0)).ToArray()));
            }
        }
        return entries;
    }
}
