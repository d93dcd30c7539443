with

source as (

    select * from {{ source('calltouch', 'tags') }}

),

renamed as (

    select
        site_id,
        order_number,
        tag

    from source

)

select * from renamed
