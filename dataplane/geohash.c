/* geohash: encoding, decoding, neighbours, distances and search areas with Redis's arithmetic
 * (see geohash.h). Bits: a hash of `step` bits per coordinate interleaves them, latitude in the
 * even positions and longitude in the odd ones, so the longitude bit is the higher of each pair. */
#include "geohash.h"

#include <math.h>
#include <stddef.h>

#define DEG_TO_RAD (M_PI / 180.0)
/* Half the Mercator world width in meters: the step estimate doubles the range up to it. */
#define MERCATOR_MAX 20037726.37
/* Latitudes past these make the estimated step one (and two) coarser: meridians converge. */
#define POLAR_LAT_1 66
#define POLAR_LAT_2 80
#define HASH_BITS_MAX 32 /* a coordinate has at most this many bits */
#define EVEN_BITS 0x5555555555555555ULL
#define ODD_BITS 0xaaaaaaaaaaaaaaaaULL

static double deg_rad(double deg)
{
    return deg * DEG_TO_RAD;
}

static double rad_deg(double rad)
{
    return rad / DEG_TO_RAD;
}

/* Spreads the 32 bits of v over the even bit positions of a 64-bit word. */
static uint64_t spread_bits(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & EVEN_BITS;
    return x;
}

/* The inverse of spread_bits: gathers the even bits of x into 32 bits. */
static uint32_t gather_bits(uint64_t x)
{
    x &= EVEN_BITS;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

static int range_is_zero(const geohash_range *r)
{
    return r->max == 0 && r->min == 0;
}

void geohash_coord_range(geohash_range *lon_range, geohash_range *lat_range)
{
    lon_range->min = GEO_LONG_MIN;
    lon_range->max = GEO_LONG_MAX;
    lat_range->min = GEO_LAT_MIN;
    lat_range->max = GEO_LAT_MAX;
}

int geohash_encode(const geohash_range *lon_range, const geohash_range *lat_range, double longitude,
                   double latitude, uint8_t step, geohash_bits *hash)
{
    if (!hash || step > HASH_BITS_MAX || step == 0 || range_is_zero(lat_range) ||
        range_is_zero(lon_range))
        return 0;
    if (longitude > GEO_LONG_MAX || longitude < GEO_LONG_MIN || latitude > GEO_LAT_MAX ||
        latitude < GEO_LAT_MIN)
        return 0;
    hash->bits = 0;
    hash->step = step;
    if (latitude < lat_range->min || latitude > lat_range->max || longitude < lon_range->min ||
        longitude > lon_range->max)
        return 0;
    /* The offsets within the ranges, as fixed point numbers of `step` bits. */
    double lat_offset = (latitude - lat_range->min) / (lat_range->max - lat_range->min);
    double lon_offset = (longitude - lon_range->min) / (lon_range->max - lon_range->min);
    lat_offset *= (double)(1ULL << step);
    lon_offset *= (double)(1ULL << step);
    hash->bits = spread_bits((uint32_t)lat_offset) | (spread_bits((uint32_t)lon_offset) << 1);
    return 1;
}

int geohash_encode_wgs84(double longitude, double latitude, uint8_t step, geohash_bits *hash)
{
    geohash_range lon_range, lat_range;
    geohash_coord_range(&lon_range, &lat_range);
    return geohash_encode(&lon_range, &lat_range, longitude, latitude, step, hash);
}

int geohash_decode(geohash_range lon_range, geohash_range lat_range, geohash_bits hash,
                   geohash_area *area)
{
    if (geohash_is_zero(hash) || range_is_zero(&lat_range) || range_is_zero(&lon_range))
        return 0;
    area->hash = hash;
    uint32_t ilat = gather_bits(hash.bits), ilon = gather_bits(hash.bits >> 1);
    double cells = (double)(1ULL << hash.step);
    double lat_scale = lat_range.max - lat_range.min, lon_scale = lon_range.max - lon_range.min;
    area->latitude.min = lat_range.min + (ilat * 1.0 / cells) * lat_scale;
    area->latitude.max = lat_range.min + ((ilat + 1) * 1.0 / cells) * lat_scale;
    area->longitude.min = lon_range.min + (ilon * 1.0 / cells) * lon_scale;
    area->longitude.max = lon_range.min + ((ilon + 1) * 1.0 / cells) * lon_scale;
    return 1;
}

static double clamp(double v, double lo, double hi)
{
    return v > hi ? hi : v < lo ? lo : v;
}

int geohash_decode_wgs84_xy(geohash_bits hash, double *xy)
{
    geohash_range lon_range, lat_range;
    geohash_area area;
    geohash_coord_range(&lon_range, &lat_range);
    if (!geohash_decode(lon_range, lat_range, hash, &area))
        return 0;
    xy[0] = clamp((area.longitude.min + area.longitude.max) / 2, GEO_LONG_MIN, GEO_LONG_MAX);
    xy[1] = clamp((area.latitude.min + area.latitude.max) / 2, GEO_LAT_MIN, GEO_LAT_MAX);
    return 1;
}

uint64_t geohash_align52(geohash_bits hash)
{
    return hash.bits << (GEO_STEP_MAX * 2 - hash.step * 2);
}

/* Moves the hash one cell along longitude (the odd bits; d > 0 east) or latitude (the even
 * bits; d > 0 north), wrapping around: adding to one interleaved half carries through the
 * other half's positions once those are filled with ones. */
static void move_bits(geohash_bits *hash, int d, uint64_t mine, uint64_t other)
{
    if (d == 0)
        return;
    uint64_t shift = 64 - (uint64_t)hash->step * 2;
    uint64_t v = hash->bits & mine, rest = hash->bits & other;
    uint64_t fill = other >> shift;
    if (d > 0) {
        v = v + (fill + 1);
    } else {
        v = v | fill;
        v = v - (fill + 1);
    }
    v &= mine >> shift;
    hash->bits = v | rest;
}

static geohash_bits moved(geohash_bits h, int dlon, int dlat)
{
    move_bits(&h, dlon, ODD_BITS, EVEN_BITS);
    move_bits(&h, dlat, EVEN_BITS, ODD_BITS);
    return h;
}

void geohash_neighbors_of(const geohash_bits *hash, geohash_neighbors *n)
{
    n->east = moved(*hash, 1, 0);
    n->west = moved(*hash, -1, 0);
    n->south = moved(*hash, 0, -1);
    n->north = moved(*hash, 0, 1);
    n->north_west = moved(*hash, -1, 1);
    n->south_west = moved(*hash, -1, -1);
    n->north_east = moved(*hash, 1, 1);
    n->south_east = moved(*hash, 1, -1);
}

/* Along a meridian the haversine reduces to the latitude difference. */
static double lat_distance(double lat1, double lat2)
{
    return GEO_EARTH_RADIUS_IN_METERS * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geohash_distance(double lon1, double lat1, double lon2, double lat2)
{
    double v = sin((deg_rad(lon2) - deg_rad(lon1)) / 2);
    if (v == 0.0)
        return lat_distance(lat1, lat2);
    double lat1r = deg_rad(lat1), lat2r = deg_rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEO_EARTH_RADIUS_IN_METERS * asin(sqrt(a));
}

int geohash_distance_if_in_radius(double x1, double y1, double x2, double y2, double radius,
                                  double *distance)
{
    *distance = geohash_distance(x1, y1, x2, y2);
    return *distance <= radius;
}

int geohash_distance_if_in_rectangle(double width_m, double height_m, double x1, double y1,
                                     double x2, double y2, double *distance)
{
    /* The cheaper latitude test first. */
    if (lat_distance(y2, y1) > height_m / 2)
        return 0;
    if (geohash_distance(x2, y2, x1, y2) > width_m / 2)
        return 0;
    *distance = geohash_distance(x1, y1, x2, y2);
    return 1;
}

/* Redis's geohashEstimateStepsByRadius: the coarsest step whose cells still hold the range. */
static int estimate_steps(double range_meters, double lat)
{
    if (range_meters == 0)
        return GEO_STEP_MAX;
    int step = 1;
    while (range_meters < MERCATOR_MAX) {
        range_meters *= 2;
        step++;
    }
    step -= 2; /* so that the range is within the 3x3 boxes in most cases */
    if (lat > POLAR_LAT_1 || lat < -POLAR_LAT_1) {
        step--;
        if (lat > POLAR_LAT_2 || lat < -POLAR_LAT_2)
            step--;
    }
    return step < 1 ? 1 : step > GEO_STEP_MAX ? GEO_STEP_MAX : step;
}

/* The shape's bounding box in degrees. Meridians converge towards the pole, so the widest
 * edge is the one nearer the equator. */
static void bounding_box(geo_shape *shape)
{
    double lon = shape->xy[0], lat = shape->xy[1];
    int circle = shape->type == GEO_SHAPE_CIRCLE;
    double height = shape->conversion * (circle ? shape->radius : shape->height / 2);
    double width = shape->conversion * (circle ? shape->radius : shape->width / 2);
    double lat_delta = rad_deg(height / GEO_EARTH_RADIUS_IN_METERS);
    double lon_delta_top =
        rad_deg(width / GEO_EARTH_RADIUS_IN_METERS / cos(deg_rad(lat + lat_delta)));
    double lon_delta_bottom =
        rad_deg(width / GEO_EARTH_RADIUS_IN_METERS / cos(deg_rad(lat - lat_delta)));
    double lon_delta = lat < 0 ? lon_delta_bottom : lon_delta_top;
    shape->bounds[0] = lon - lon_delta;
    shape->bounds[2] = lon + lon_delta;
    shape->bounds[1] = lat - lat_delta;
    shape->bounds[3] = lat + lat_delta;
}

static void area_at(const geo_shape *shape, int steps, geohash_bits *hash, geohash_area *area,
                    geohash_neighbors *n)
{
    geohash_range lon_range, lat_range;
    geohash_coord_range(&lon_range, &lat_range);
    geohash_encode(&lon_range, &lat_range, shape->xy[0], shape->xy[1], (uint8_t)steps, hash);
    geohash_neighbors_of(hash, n);
    geohash_decode(lon_range, lat_range, *hash, area);
}

static geohash_area decoded(geohash_bits h)
{
    geohash_range lon_range, lat_range;
    geohash_area a = {0};
    geohash_coord_range(&lon_range, &lat_range);
    geohash_decode(lon_range, lat_range, h, &a);
    return a;
}

geohash_radius geohash_areas_for_shape(geo_shape *shape)
{
    static const geohash_bits zero = {0, 0};
    bounding_box(shape);
    double min_lon = shape->bounds[0], min_lat = shape->bounds[1];
    double max_lon = shape->bounds[2], max_lat = shape->bounds[3];
    /* A box is estimated by the distance from its center to a corner. */
    double radius_m = shape->type == GEO_SHAPE_CIRCLE
                          ? shape->radius
                          : sqrt((shape->width / 2) * (shape->width / 2) +
                                 (shape->height / 2) * (shape->height / 2));
    radius_m *= shape->conversion;
    int steps = estimate_steps(radius_m, shape->xy[1]);
    geohash_radius r;
    area_at(shape, steps, &r.hash, &r.area, &r.neighbors);
    /* Near a cell edge the neighbours may not reach far enough: one step coarser then. */
    int coarser = decoded(r.neighbors.north).latitude.max < max_lat ||
                  decoded(r.neighbors.south).latitude.min > min_lat ||
                  decoded(r.neighbors.east).longitude.max < max_lon ||
                  decoded(r.neighbors.west).longitude.min > min_lon;
    if (steps > 1 && coarser) {
        steps--;
        area_at(shape, steps, &r.hash, &r.area, &r.neighbors);
    }
    /* Drop the neighbours the shape cannot reach. */
    if (steps >= 2) {
        geohash_neighbors *n = &r.neighbors;
        if (r.area.latitude.min < min_lat)
            n->south = n->south_west = n->south_east = zero;
        if (r.area.latitude.max > max_lat)
            n->north = n->north_east = n->north_west = zero;
        if (r.area.longitude.min < min_lon)
            n->west = n->south_west = n->north_west = zero;
        if (r.area.longitude.max > max_lon)
            n->east = n->south_east = n->north_east = zero;
    }
    return r;
}
